import ChatConsole
import NIOCore

/// The web console's files ready to serve, prepared once when the router is built: each with its media type
/// and an ETag (its content's SHA-256), and the page with the assets' version in their paths.
///
/// Assets live under `/app/<version>/<name>`, where the version is a hash of every asset, so they can be
/// cached for a year: a new build changes the version, and the page (revalidated on every load) names the
/// new paths.
struct ConsoleAssets: Sendable {
    /// One file: its bytes, `Content-Type` and quoted ETag.
    struct File: Sendable {
        let body: ByteBuffer
        let contentType: String
        let etag: String
    }

    /// The page served at `/app`.
    let page: File
    /// The assets' version: the first 16 hexadecimal digits of a hash over every asset's name and bytes.
    let version: String
    /// The assets by name.
    let assets: [String: File]

    init(page: [UInt8] = ConsoleFiles.page, assets: [(name: String, bytes: [UInt8])] = ConsoleFiles.assets) {
        var catalogue: [String: File] = [:]
        var hashes = ""
        for (name, bytes) in assets {
            let file = Self.file(bytes, type: StaticFiles.mediaType(of: name))
            catalogue[name] = file
            hashes += "\(name) \(file.etag)\n"
        }
        self.assets = catalogue
        self.version = String(StaticFiles.contentHash(Array(hashes.utf8)).prefix(16))
        let text = String(decoding: page, as: UTF8.self).replacing("{{version}}", with: self.version)
        self.page = Self.file(Array(text.utf8), type: "text/html; charset=utf-8")
    }

    /// The total size of the page and the assets, in bytes.
    var totalBytes: Int {
        self.assets.values.reduce(self.page.body.readableBytes) { $0 + $1.body.readableBytes }
    }

    private static func file(_ bytes: [UInt8], type: String) -> File {
        File(
            body: ByteBuffer(bytes: bytes), contentType: type, etag: "\"\(StaticFiles.contentHash(bytes).prefix(32))\"")
    }
}
