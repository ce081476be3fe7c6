/// `If-None-Match` against a file's ETag, for the static files the server sends (the docs pages' assets, the
/// web console).
enum EntityTags {
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
