import HTTPTypes
import Hummingbird

/// An error of the OpenAI-compatible `/v1` routes, in OpenAI's shape so its SDKs raise the right exception:
/// `{"error": {"message", "type", "param", "code"}}`.
///
/// The one writer of `/v1` errors: ``ErrorMiddleware`` renders every failure under `/v1` through it (an
/// ``APIError`` is mapped by ``init(_:)``), and a `/v1` handler throws one directly when OpenAI has a
/// particular `type` or `code` for the case (`model_not_found`, `insufficient_quota`).
public struct OpenAIError: HTTPResponseError, Sendable, Equatable {
    public let status: HTTPResponse.Status
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, _ message: String, type: String, param: String? = nil, code: String? = nil,
        headers: HTTPFields = [:]
    ) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers
    }

    /// A missing, malformed, unknown, revoked or expired credential (the reason is never told).
    public static let invalidAPIKey = OpenAIError(
        .unauthorized, "Invalid API key or token", type: "invalid_request_error", code: "invalid_api_key",
        headers: [.wwwAuthenticate: "Bearer"])

    /// The `/v1` form of one of the API's own errors: 422 becomes OpenAI's 400 naming the field in `param`,
    /// 401 `invalid_api_key`, 429 `rate_limit_exceeded`, 5xx `server_error`; headers (`Retry-After`) are kept.
    public init(_ error: APIError) {
        let status = error.status
        switch (status.code, error.detail) {
        case (422, .validation(let issues)):
            let field = issues.first?.loc.dropFirst().compactMap { step -> String? in
                if case .key(let key) = step { return key }
                return nil
            }
            self.init(
                .badRequest, error.message, type: "invalid_request_error",
                param: field.flatMap { $0.isEmpty ? nil : $0.joined(separator: ".") }, headers: error.headers)
        case (401, _): self = Self.invalidAPIKey
        case (429, _):
            self.init(status, error.message, type: "requests", code: "rate_limit_exceeded", headers: error.headers)
        case (500..., _): self.init(status, error.message, type: "server_error", headers: error.headers)
        case (403, _): self.init(status, error.message, type: "permission_error", headers: error.headers)
        default: self.init(status, error.message, type: "invalid_request_error", headers: error.headers)
        }
    }

    /// Whether a request is on the OpenAI-compatible routes, whose errors take this shape.
    static func applies(to path: String) -> Bool {
        path == "/v1" || path.hasPrefix("/v1/")
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var writer = JSONWriter(capacity: 128 + self.message.utf8.count)
        writer.object { json in
            json.key("error")
            json.object { json in
                json.field("message", self.message)
                json.field("type", self.type)
                json.field("param", self.param)
                json.field("code", self.code)
            }
        }
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: writer.buffer))
    }
}
