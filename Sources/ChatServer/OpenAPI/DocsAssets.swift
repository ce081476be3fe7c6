import CDocsAssets
import ChatAuth
import NIOCore

/// One file the documentation pages load, held in memory with its media type and a content-hash ETag.
struct DocsAsset: Sendable {
    let body: ByteBuffer
    let contentType: String
    /// A strong validator: the content's SHA-256 in hexadecimal, quoted.
    let etag: String
    /// Where the pages load it from: `/docs/assets/<name>?v=<hash prefix>`, a new URL whenever the content
    /// changes, so a browser may keep it for a year.
    let url: String

    init(name: String, bytes: some Collection<UInt8>) {
        // SHA-256 of bytes in memory fails only if OpenSSL cannot allocate; the length still tells versions apart.
        let hash = (try? SHA256.hexDigest(bytes)) ?? "length-\(bytes.count)"
        self.body = ByteBuffer(bytes: bytes)
        self.contentType = Self.contentType(of: name)
        self.etag = "\"\(hash)\""
        self.url = DocsAssets.pathPrefix + name + "?v=" + hash.prefix(16)
    }

    static func contentType(of name: String) -> String {
        if name.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if name.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if name.hasSuffix(".png") { return "image/png" }
        return "application/octet-stream"
    }
}

/// The files /docs and /redoc load: Swagger UI and ReDoc, compiled into the binary by the CDocsAssets target
/// (Sources/CDocsAssets/assets, with their licences and VERSIONS), and the script that starts Swagger UI (a file,
/// not inline, so the pages' Content-Security-Policy allows scripts from `'self'` only).
struct DocsAssets: Sendable {
    static let pathPrefix = "/docs/assets/"
    static let swaggerInit = "swagger-init.js"
    /// Copied and hashed once per process (about 3 MB), when the first router is built.
    static let shared = DocsAssets()

    let files: [String: DocsAsset]

    init() {
        var files: [String: DocsAsset] = [:]
        var count = 0
        let table = cdocs_assets(&count)
        for entry in UnsafeBufferPointer(start: table, count: count) {
            let name = String(cString: entry.name)
            files[name] = DocsAsset(name: name, bytes: UnsafeBufferPointer(start: entry.bytes, count: entry.count))
        }
        files[Self.swaggerInit] = DocsAsset(name: Self.swaggerInit, bytes: Array(DocsPages.swaggerInitScript.utf8))
        self.files = files
    }

    subscript(name: String) -> DocsAsset? { self.files[name] }

    /// The URL a page references for `name` (with its content hash).
    func url(_ name: String) -> String { self.files[name]?.url ?? Self.pathPrefix + name }
}
