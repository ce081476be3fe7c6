import ChatProvider
import ChatStorage
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// A request body that checks its own fields after decoding.
protocol ValidatedRequest: Decodable {
    /// Problems with the decoded values; empty when the request is acceptable.
    func validationIssues() -> [ValidationIssue]
}

extension Request {
    /// Decodes a JSON body into `T` and validates it. Malformed JSON, missing fields, wrong types and
    /// invalid values all become 422 with FastAPI-shaped `detail` entries; a body over the limit is 413.
    ///
    /// `fastPath`, when given, reads a body parsed without `JSONDecoder` (and without a repeated key), or
    /// returns nil to have it decoded as any other: it must read what `JSONDecoder` reads.
    func decodeJSON<T: ValidatedRequest>(
        as type: T.Type,
        context: AppRequestContext,
        allowEmpty: Bool = false,
        fastPath: ((WireJSON) -> T?)? = nil
    ) async throws -> T {
        try self.requireContentType {
            $0 == "application/json" || ($0.hasPrefix("application/") && $0.hasSuffix("+json"))
        }
        let buffer = try await self.collectBody(context: context)
        let bytes = buffer.readableBytesView
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            if allowEmpty, let empty = try? JSONDecoder().decode(T.self, from: Data("{}".utf8)) {
                return empty
            }
            throw APIError.validation(.missing(["body"]))
        }
        try Self.requireUTF8(bytes, type: "json_invalid")
        let value: T
        if let fastPath, let json = WireJSON.parse(bytes, repeatedKeys: false), let read = fastPath(json) {
            value = read
        } else {
            do {
                // A repeated key keeps its last value, as in the reference backend.
                value = try JSONDecoder().decode(T.self, from: DuplicateKeys.lastValueWins(bytes) ?? Data(bytes))
            } catch let error as DecodingError {
                throw APIError(validation: [ValidationIssue(decodingError: error)])
            }
        }
        let issues = value.validationIssues()
        guard issues.isEmpty else { throw APIError(validation: issues) }
        return value
    }

    /// Decodes an `application/x-www-form-urlencoded` body (the OAuth2 password flow).
    func decodeForm<T: ValidatedRequest>(as type: T.Type, context: AppRequestContext) async throws -> T {
        try self.requireContentType { $0 == "application/x-www-form-urlencoded" }
        let buffer = try await self.collectBody(context: context)
        try Self.requireUTF8(buffer.readableBytesView, type: "value_error")
        let value: T
        do {
            value = try URLEncodedFormDecoder().decode(
                T.self, from: String(decoding: buffer.readableBytesView, as: UTF8.self))
        } catch let error as DecodingError {
            throw APIError(validation: [ValidationIssue(decodingError: error)])
        } catch {
            throw APIError(validation: [ValidationIssue(loc: ["body"], msg: "Invalid form body", type: "value_error")])
        }
        let issues = value.validationIssues()
        guard issues.isEmpty else { throw APIError(validation: issues) }
        return value
    }
}

extension Request {
    /// The whole body, up to the upload limit (413 beyond it). Broken framing (a bad chunk size, an unknown
    /// transfer coding) is 400; a client that goes away mid-body is logged as such, at debug level, and
    /// answered 400 (nobody reads that answer), never as a server fault.
    func collectBody(context: AppRequestContext, limit: Int? = nil) async throws -> ByteBuffer {
        do {
            return try await self.body.collect(upTo: limit ?? context.maxUploadSize)
        } catch let error as HTTPError {
            throw error
        } catch is NIOTooManyBytesError {
            // A body without a declared length that runs past the limit (a declared one is refused at its head).
            throw APIError(.contentTooLarge, "Request body too large")
        } catch let error as HTTPParserError {
            context.logger.debug("malformed request body", metadata: ["error": "\(error)"])
            // The framing is lost: nothing more can be read from this connection.
            throw APIError(.badRequest, "Malformed request body", headers: [.connection: "close"])
        } catch {
            context.logger.debug("client went away during the request body", metadata: ["error": "\(error)"])
            throw APIError(.badRequest, "The request body ended before it was complete")
        }
    }

    /// 415 when the request names a media type that `accepts` refuses. A request without `Content-Type` is
    /// read as the documented type, as the reference backend does.
    /// 422 (issue `type` as the decoder would name it) when the body is not valid UTF-8.
    static func requireUTF8(_ bytes: ByteBufferView, type: String) throws(APIError) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw APIError(validation: [ValidationIssue(loc: ["body"], msg: "The body is not valid UTF-8", type: type)])
        }
    }

    func requireContentType(_ accepts: (String) -> Bool) throws(APIError) {
        guard let header = self.headers[.contentType] else { return }
        let mediaType = header.prefix { $0 != ";" }.trimmingWhitespace().lowercased()
        guard accepts(mediaType) else {
            throw APIError(.unsupportedMediaType, "Unsupported media type \"\(mediaType)\"")
        }
    }
}

extension ValidationIssue {
    init(decodingError: DecodingError) {
        func location(_ path: [any CodingKey], _ last: (any CodingKey)? = nil) -> [Location] {
            ["body"]
                + (path + (last.map { [$0] } ?? [])).map { key in
                    key.intValue.map(Location.index) ?? .key(key.stringValue)
                }
        }
        switch decodingError {
        case .keyNotFound(let key, let context):
            self = .missing(location(context.codingPath, key))
        case .valueNotFound(let type, let context):
            self = ValidationIssue(
                loc: location(context.codingPath),
                msg: "Input should be a valid \(Self.typeName(type))",
                type: "\(Self.typeName(type))_type"
            )
        case .typeMismatch(let type, let context):
            self = ValidationIssue(
                loc: location(context.codingPath),
                msg: "Input should be a valid \(Self.typeName(type))",
                type: "\(Self.typeName(type))_type"
            )
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            self = ValidationIssue(loc: ["body"], msg: "JSON decode error", type: "json_invalid")
        case .dataCorrupted(let context):
            self = ValidationIssue(
                loc: location(context.codingPath), msg: context.debugDescription, type: "value_error")
        @unknown default:
            self = ValidationIssue(loc: ["body"], msg: "Invalid body", type: "value_error")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "string"
        case is Int.Type, is Int64.Type: "integer"
        case is Bool.Type: "boolean"
        case is Double.Type: "number"
        default: "\(type)".lowercased().hasPrefix("dictionary") ? "dictionary" : "value"
        }
    }
}

/// Query and path parameters, checked the way FastAPI checks them (422 with `loc: ["query", name]`).
extension Request {
    /// A text parameter read as a form encodes it (`application/x-www-form-urlencoded`, what browsers, HTML
    /// forms and most HTTP clients send): `+` is a space, `%2B` a plus sign. Nil when absent; 422 when its
    /// percent-encoding is broken. (The router's own decoding keeps `+`, which made `q=quick+fox` one word pair
    /// joined by punctuation, so a phrase.) With `plusIsSpace` false, `+` is itself (for a part of an email,
    /// which may hold a `+` but never a space).
    func textQuery(_ name: String, plusIsSpace: Bool = true) throws(APIError) -> String? {
        guard let query = self.uri.query else { return nil }
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.first == name[...] else { continue }
            let raw = parts.count > 1 ? parts[1] : ""
            let form = plusIsSpace ? raw.replacingOccurrences(of: "+", with: " ") : String(raw)
            guard let value = form.removingPercentEncoding else {
                throw .validation(
                    ValidationIssue(
                        loc: ["query", .key(name)], msg: "Input should be valid percent-encoded UTF-8",
                        type: "string_type"))
            }
            return value
        }
        return nil
    }

    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, in any case, as FastAPI reads them).
    func booleanQuery(_ name: String, default defaultValue: Bool) throws(APIError) -> Bool {
        guard let raw = self.uri.queryParameters[name[...]] else { return defaultValue }
        switch raw.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            throw .validation(
                ValidationIssue(
                    loc: ["query", .key(name)], msg: "Input should be a valid boolean, unable to interpret input",
                    type: "bool_parsing"))
        }
    }

    func integerQuery(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let raw = self.uri.queryParameters[name[...]] else { return defaultValue }
        guard let value = Int(raw) else {
            throw .validation(
                ValidationIssue(
                    loc: ["query", .key(name)],
                    msg: "Input should be a valid integer, unable to parse string as an integer",
                    type: "int_parsing"
                )
            )
        }
        if value < range.lowerBound {
            throw .validation(
                ValidationIssue(
                    loc: ["query", .key(name)],
                    msg: "Input should be greater than or equal to \(range.lowerBound)",
                    type: "greater_than_equal"
                )
            )
        }
        if value > range.upperBound {
            throw .validation(
                ValidationIssue(
                    loc: ["query", .key(name)],
                    msg: "Input should be less than or equal to \(range.upperBound)",
                    type: "less_than_equal"
                )
            )
        }
        return value
    }
}

extension AppRequestContext {
    /// A path parameter that must be a UUID.
    func uuidParameter(_ name: String) throws(APIError) -> UUID {
        guard let raw = self.parameters.get(name), let id = UUID(canonical: raw) else {
            throw .validation(
                ValidationIssue(loc: ["path", .key(name)], msg: "Input should be a valid UUID", type: "uuid_parsing")
            )
        }
        return id
    }

    /// The `message_id` path parameter: a message id (a whole number from 1).
    func messageIDParameter() throws(APIError) -> Int64 {
        guard let raw = self.parameters.get("message_id"), let id = Int64(raw), id > 0 else {
            throw .validation(
                ValidationIssue(
                    loc: ["path", "message_id"], msg: "Input should be a valid integer", type: "int_parsing")
            )
        }
        return id
    }
}
