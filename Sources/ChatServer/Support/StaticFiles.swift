import ChatAuth
import HTTPTypes
import Hummingbird

/// What the static files the server sends (the docs pages' assets, the web console) share: the media type by
/// file name, and the answer to a conditional GET (200 with the file, or 304 when `If-None-Match` names its
/// ETag).
enum StaticFiles {
    /// The media type for a file name's extension.
    static func mediaType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "svg": "image/svg+xml"
        case "png": "image/png"
        default: "application/octet-stream"
        }
    }

    /// 200 with `body`, or 304 without a body when `If-None-Match` names `etag`; both with the ETag and
    /// `cacheControl`.
    static func response(
        to request: Request, etag: String, cacheControl: String, contentType: String, body: () -> ResponseBody
    ) -> Response {
        var headers: HTTPFields = [.eTag: etag, .cacheControl: cacheControl]
        if Self.matches(request.headers[values: .ifNoneMatch], etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: body())
    }

    /// A file's content hash for its ETag: SHA-256 in hexadecimal. OpenSSL's digest of bytes in memory fails
    /// only if the library cannot allocate; the length then stands in, which still tells most versions apart
    /// (an ETag is a cache hint, not a secret).
    static func contentHash(_ bytes: [UInt8]) -> String {
        (try? SHA256.hexDigest(bytes)) ?? "length-\(bytes.count)"
    }

    /// Whether If-None-Match (its field values: lists of entity tags, weak or strong, or `*`) names `etag`.
    /// Weak comparison, as RFC 9110 asks for this header.
    static func matches(_ values: [String], etag: String) -> Bool {
        values.flatMap { $0.split(separator: ",") }.contains { candidate in
            // An entity tag holds no whitespace: what is left once it is removed is the tag.
            let tag = String(candidate.filter { $0 != " " && $0 != "\t" })
            return tag == "*" || tag == etag || tag == "W/" + etag
        }
    }
}
