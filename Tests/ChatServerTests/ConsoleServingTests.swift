import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import ChatServer

/// How the server serves the web console at /app: the page's security headers, the assets' types and caching,
/// and a bound on their size. What the page does is tested in a real browser (Tests/browser).
@Suite("Web console: serving /app")
struct ConsoleServingTests {
    /// The asset paths the page names (`/app/<version>/<name>`), in order.
    static func assetPaths(in page: String) -> [String] {
        page.matches(of: /(?:src|href)="(\/app\/[0-9a-f]{16}\/[a-z.]+)"/).map { String($0.output.1) }
    }

    @Test("GET /app is the page with a strict CSP, X-Frame-Options DENY, and no inline script")
    func page() async throws {
        try await withApp(.live) { client, _ in
            let response = try await client.send(.get, "/app")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            let policy = try #require(response.headers[.contentSecurityPolicy])
            for directive in [
                "default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'",
                "frame-ancestors 'none'",
            ] {
                #expect(policy.contains(directive), "\(directive) in \(policy)")
            }
            #expect(!policy.contains("unsafe"))
            #expect(response.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            #expect(response.headers[.cacheControl] == "no-cache")
            let page = response.text
            // Every script is an external file of this origin: no inline script, no handler attribute.
            #expect(page.matches(of: /<script(?![^>]*\bsrc="\/app\/)/).isEmpty)
            #expect(page.matches(of: /\son[a-z]+=/).isEmpty)
            #expect(!page.contains("{{version}}"))
            #expect(Self.assetPaths(in: page).count >= 2)
            // GET / stays the reference's JSON.
            #expect(try await client.send(.get, "/").headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test("the page's assets have their media types, an ETag, a year's cache, and 304 for If-None-Match")
    func assets() async throws {
        try await withApp(.live) { client, _ in
            let page = try await client.send(.get, "/app").text
            var types: Set<String> = []
            for path in Self.assetPaths(in: page) {
                let response = try await client.send(.get, path)
                #expect(response.status == .ok, "\(path)")
                let type = try #require(response.headers[.contentType])
                types.insert(type)
                #expect(response.headers[.cacheControl] == "public, max-age=31536000, immutable")
                let etag = try #require(response.headers[.eTag])
                #expect(etag.hasPrefix("\"") && etag.count == 34)
                let again = try await client.send(.get, path, headers: [.ifNoneMatch: "\"other\", W/\(etag)"])
                #expect(again.status == .notModified)
                #expect(again.body.readableBytes == 0)
                #expect(again.headers[.eTag] == etag)
                let changed = try await client.send(.get, path, headers: [.ifNoneMatch: "\"other\""])
                #expect(changed.status == .ok)
            }
            #expect(types == ["text/javascript; charset=utf-8", "text/css; charset=utf-8"])
            let pageTag = try #require(try await client.send(.get, "/app").headers[.eTag])
            #expect(try await client.send(.get, "/app", headers: [.ifNoneMatch: pageTag]).status == .notModified)
        }
    }

    @Test("an unknown asset, or a known one under another version, is 404 with a detail")
    func unknownAsset() async throws {
        try await withApp { client, _ in
            let version = ConsoleAssets().version
            for path in ["/app/\(version)/nope.js", "/app/0123456789abcdef/console.js", "/app/\(version)/../app"] {
                let response = try await client.send(.get, path)
                #expect(response.status == .notFound, "\(path)")
                #expect(response.detail != nil, "\(path)")
            }
            #expect(try await client.send(.get, "/app/\(version)/console.js").status == .ok)
            let wrongMethod = try await client.send(.post, "/app")
            #expect(wrongMethod.status == .methodNotAllowed)
        }
    }

    @Test("the version changes with any asset's bytes; the console weighs under 150 KB")
    func versionAndSize() throws {
        let assets = ConsoleAssets()
        #expect(assets.totalBytes < 150 * 1024, "\(assets.totalBytes) bytes")
        let edited = ConsoleAssets(page: Array("<p>{{version}}</p>".utf8), assets: [("console.js", [0x20])])
        let editedAgain = ConsoleAssets(page: Array("<p>{{version}}</p>".utf8), assets: [("console.js", [0x21])])
        #expect(edited.version != editedAgain.version)
        #expect(String(buffer: edited.page.body) == "<p>\(edited.version)</p>")
        #expect(StaticFiles.mediaType(of: "console.js") == "text/javascript; charset=utf-8")
    }
}
