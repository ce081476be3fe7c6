import ChatStorage
import NIOSSL
import PostgresNIO

/// The location as postgres-nio's configurations, with TLS as ``PostgresLocation/sslMode`` says.
extension PostgresLocation {
    private var tlsConfiguration: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        if self.sslMode != .verifyFull { tls.certificateVerification = .none }
        return tls
    }

    /// For the pool.
    func clientConfiguration() -> PostgresClient.Configuration {
        switch self.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresClient.Configuration.TLS =
                switch self.sslMode {
                case .disable: .disable
                case .prefer: .prefer(self.tlsConfiguration)
                case .require, .verifyFull: .require(self.tlsConfiguration)
                }
            return PostgresClient.Configuration(
                host: host, port: port, username: self.username, password: self.password, database: self.database,
                tls: tls)
        case .unixSocket(let directory, let port):
            return PostgresClient.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: self.username, password: self.password,
                database: self.database)
        }
    }

    /// For the single connection that migrates at start (and reports a failure to connect at once).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        switch self.endpoint {
        case .tcp(let host, let port):
            let tls: PostgresConnection.Configuration.TLS =
                switch self.sslMode {
                case .disable: .disable
                case .prefer: .prefer(try NIOSSLContext(configuration: self.tlsConfiguration))
                case .require, .verifyFull: .require(try NIOSSLContext(configuration: self.tlsConfiguration))
                }
            return PostgresConnection.Configuration(
                host: host, port: port, username: self.username, password: self.password, database: self.database,
                tls: tls)
        case .unixSocket(let directory, let port):
            return PostgresConnection.Configuration(
                unixSocketPath: "\(directory)/.s.PGSQL.\(port)", username: self.username, password: self.password,
                database: self.database)
        }
    }
}
