import Foundation

/// Where a PostgreSQL server is and how to log in, from a `postgresql://` or `postgres://` URL:
/// `postgresql://user:password@host:port/database?sslmode=disable|prefer|require|verify-full`, with the
/// host either a name, an address, or a Unix-socket directory (percent-encoded in the host, or given as
/// `?host=/var/run/postgresql`, as libpq reads it). The description never holds the password.
///
/// Only the parsed URL, so that the configuration can hold it without depending on the engine; the
/// PostgreSQL engine turns it into postgres-nio's configurations (PostgresLocation+Driver.swift).
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible {
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, without checking its certificate (libpq's default).
        case prefer
        /// TLS or fail, without checking the certificate.
        case require
        /// TLS with the certificate checked against the system's roots and the host name.
        case verifyFull = "verify-full"
    }

    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The directory holding the server's socket (`.s.PGSQL.<port>` in it).
        case unixSocket(directory: String, port: Int)
    }

    /// A URL that does not name a usable server; the message never holds the password.
    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    public var endpoint: Endpoint
    public var username: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode

    public init(url: String) throws(InvalidURL) {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            throw InvalidURL(description: "expected postgresql://user:password@host:port/database")
        }
        guard let components = URLComponents(string: url) else {
            throw InvalidURL(description: "not a valid URL (percent-encode special characters in the password)")
        }
        guard let user = components.percentEncodedUser?.removingPercentEncoding, !user.isEmpty else {
            throw InvalidURL(description: "the URL names no user (postgresql://user:password@host/database)")
        }
        self.username = user
        self.password = components.percentEncodedPassword?.removingPercentEncoding
        let path = components.percentEncodedPath.removingPercentEncoding ?? ""
        let database = path.hasPrefix("/") ? String(path.dropFirst()) : path
        guard !database.isEmpty, !database.contains("/") else {
            throw InvalidURL(description: "the URL names no database (postgresql://user:password@host/database)")
        }
        self.database = database
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let mode = query["sslmode"] ?? SSLMode.prefer.rawValue
        guard let sslMode = SSLMode(rawValue: mode) else {
            throw InvalidURL(
                description: "sslmode=\(mode) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        self.sslMode = sslMode
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else { throw InvalidURL(description: "port \(port) is out of range") }
        let host = components.percentEncodedHost?.removingPercentEncoding ?? ""
        if let socket = query["host"], socket.hasPrefix("/") {
            self.endpoint = .unixSocket(directory: socket, port: port)
        } else if host.hasPrefix("/") {
            self.endpoint = .unixSocket(directory: host, port: port)
        } else if host.isEmpty {
            throw InvalidURL(description: "the URL names no host (use ?host=/path/to/socket/directory for a socket)")
        } else {
            self.endpoint = .tcp(host: host, port: port)
        }
    }

    public var description: String {
        let place =
            switch self.endpoint {
            case .tcp(let host, let port): "\(host):\(port)"
            case .unixSocket(let directory, let port): "\(directory)/.s.PGSQL.\(port)"
            }
        return "postgresql://\(self.username)@\(place)/\(self.database)"
    }
}
