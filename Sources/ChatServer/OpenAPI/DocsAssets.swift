import CDocsAssets
import Hummingbird
import NIOCore

/// One file the documentation pages load, with its media type and a content-hash ETag. Nothing of the embedded
/// files is copied or read at start: a response streams them from the binary's read-only data in 64 KiB
/// chunks, so the docs cost no memory while unused and about a chunk per response in flight.
struct DocsAsset: Sendable {
    /// A file compiled into the binary.
    struct Embedded: @unchecked Sendable {
        // Safe to share between tasks: it points at `static const` data of DocsAssets.c, which lives as long as
        // the process and which nothing writes.
        let bytes: UnsafeRawBufferPointer
    }

    enum Content: Sendable {
        case embedded(Embedded)
        case text(ByteBuffer)
    }

    static let chunkSize = 64 * 1024

    let content: Content
    let contentType: String
    /// A strong validator: the content's SHA-256 in hexadecimal, quoted.
    let etag: String
    /// Where the pages load it from: `/docs/assets/<name>?v=<hash prefix>`, a new URL whenever the content
    /// changes, so a browser may keep it for a year.
    let url: String

    init(name: String, content: Content, sha256: String) {
        self.content = content
        self.contentType = StaticFiles.mediaType(of: name)
        self.etag = "\"\(sha256)\""
        self.url = DocsAssets.pathPrefix + name + "?v=" + sha256.prefix(16)
    }

    /// The file as a response body; an embedded one a chunk at a time (each write waits while the client is slow).
    var body: ResponseBody {
        switch self.content {
        case .text(let buffer):
            return ResponseBody(byteBuffer: buffer)
        case .embedded(let embedded):
            return ResponseBody(contentLength: embedded.bytes.count) { writer in
                var offset = 0
                while offset < embedded.bytes.count {
                    let end = min(offset + Self.chunkSize, embedded.bytes.count)
                    try await writer.write(
                        ByteBuffer(bytes: UnsafeRawBufferPointer(rebasing: embedded.bytes[offset..<end])))
                    offset = end
                }
                try await writer.finish(nil)
            }
        }
    }
}

/// The files /docs and /redoc load: Swagger UI and ReDoc, compiled into the binary by the CDocsAssets target
/// (Sources/CDocsAssets/assets, with their licences and VERSIONS; their hashes in AssetHashes.h), and the script
/// that starts Swagger UI (a file, not inline, so the pages' Content-Security-Policy allows scripts from
/// `'self'` only).
struct DocsAssets: Sendable {
    static let pathPrefix = "/docs/assets/"
    static let swaggerInit = "swagger-init.js"
    static let shared = DocsAssets()

    let files: [String: DocsAsset]

    init() {
        var files: [String: DocsAsset] = [:]
        var count = 0
        let table = cdocs_assets(&count)
        for entry in UnsafeBufferPointer(start: table, count: count) {
            let name = String(cString: entry.name)
            let embedded = DocsAsset.Embedded(bytes: UnsafeRawBufferPointer(start: entry.bytes, count: entry.count))
            files[name] = DocsAsset(name: name, content: .embedded(embedded), sha256: String(cString: entry.sha256))
        }
        files[Self.swaggerInit] = Self.text(Self.swaggerInit, DocsPages.swaggerInitScript)
        self.files = files
    }

    /// A file made from text in the source (a few hundred bytes, hashed here).
    static func text(_ name: String, _ text: String) -> DocsAsset {
        let bytes = Array(text.utf8)
        return DocsAsset(
            name: name, content: .text(ByteBuffer(bytes: bytes)), sha256: StaticFiles.contentHash(bytes))
    }

    subscript(name: String) -> DocsAsset? { self.files[name] }

    /// The URL a page references for `name` (with its content hash).
    func url(_ name: String) -> String { self.files[name]?.url ?? Self.pathPrefix + name }
}
