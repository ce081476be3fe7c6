import ChatAuth
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import ChatServer

/// /docs and /redoc load every file from this server (Swagger UI and ReDoc compiled into the binary), so they
/// work offline: only same-origin references, no inline script, and the files served with types and validators.
@Suite("Documentation pages work offline")
struct DocsAssetsTests {
    /// The `src` and `href` values of a page.
    static func references(in page: String) -> [String] {
        page.components(separatedBy: #"src=""#).dropFirst().map { $0.prefix { $0 != "\"" } }.map(String.init)
            + page.components(separatedBy: #"href=""#).dropFirst().map { $0.prefix { $0 != "\"" } }.map(String.init)
    }

    @Test("the pages reference only this server's files, run no inline script, and carry a strict CSP")
    func sameOriginPages() async throws {
        try await withApp(.live) { client, _ in
            for (uri, expected) in [("/docs", 4), ("/redoc", 2)] {
                let response = try await client.send(.get, uri)
                #expect(response.status == .ok)
                let csp = try #require(response.headers[.contentSecurityPolicy])
                #expect(csp.contains("default-src 'none'") && csp.contains("script-src 'self';"))
                let page = response.text
                #expect(!page.contains("cdn") && !page.contains("//"), "\(uri) names another origin")
                // Every <script> loads a file: none is inline (the CSP would refuse it).
                #expect(
                    page.components(separatedBy: "<script").count == page.components(separatedBy: "<script src=").count)
                let references = Self.references(in: page)
                #expect(references.count == expected, "\(uri): \(references)")
                for reference in references {
                    #expect(reference.hasPrefix("/docs/assets/") && reference.contains("?v="), "\(uri): \(reference)")
                    let asset = try await client.send(.get, reference)
                    #expect(asset.status == .ok, "\(reference)")
                    #expect(asset.body.readableBytes > 0)
                }
            }
        }
    }

    @Test("the files: their types, a content-hash ETag, a year's caching, 304 on If-None-Match, 404 for others")
    func assetsServed() async throws {
        let assets = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/CDocsAssets/assets").standardized
        try await withApp(.live) { client, _ in
            for (name, file, type) in [
                ("swagger-ui-bundle.js", "swagger-ui/swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
                ("swagger-ui.css", "swagger-ui/swagger-ui.css", "text/css; charset=utf-8"),
                ("favicon-32x32.png", "swagger-ui/favicon-32x32.png", "image/png"),
                ("redoc.standalone.js", "redoc/redoc.standalone.js", "text/javascript; charset=utf-8"),
            ] {
                let response = try await client.send(.get, "/docs/assets/\(name)")
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == type)
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                // The bytes in the binary are the repository's file, and the ETag is their SHA-256.
                let onDisk = try Data(contentsOf: assets.appendingPathComponent(file))
                #expect(Array(buffer: response.body) == [UInt8](onDisk), "\(name) differs from \(file)")
                let etag = try #require(response.headers[.eTag])
                #expect(etag == "\"\(try SHA256.hexDigest(onDisk))\"")
                try await Self.expectRevalidation(client, "/docs/assets/\(name)", etag: etag)
            }
            let script = try await client.send(.get, "/docs/assets/swagger-init.js")
            #expect(script.status == .ok && script.text.contains("SwaggerUIBundle({"))
            for missing in ["/docs/assets/nothing.js", "/docs/assets/..%2FPackage.swift", "/docs/assets/"] {
                let response = try await client.send(.get, missing)
                #expect(response.status == .notFound, "\(missing)")
                #expect(try JSONBody(response).string("detail") == "Not Found")
            }
        }
    }

    /// 304 without a body for the current tag (strong, weak, in a list, or `*`); 200 for another.
    static func expectRevalidation(_ client: some TestClientProtocol, _ uri: String, etag: String) async throws {
        for validator in [etag, "W/\(etag)", "\"old\", \(etag)", "*"] {
            let response = try await client.send(.get, uri, headers: [.ifNoneMatch: validator])
            #expect(response.status == .notModified, "\(uri) with \(validator)")
            #expect(response.body.readableBytes == 0)
            #expect(response.headers[.eTag] == etag)
            #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
        }
        let stale = try await client.send(.get, uri, headers: [.ifNoneMatch: "\"stale\""])
        #expect(stale.status == .ok && stale.body.readableBytes > 0)
    }
}
