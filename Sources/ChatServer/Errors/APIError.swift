import Foundation
import HTTPTypes
import Hummingbird

/// An error with a status a client can act on, rendered as `{"detail": ...}`.
///
/// Every failure leaving a handler becomes one of these (see ``ErrorMiddleware``), so no request ends in
/// Hummingbird's empty 500.
public struct APIError: HTTPResponseError, Sendable {
    public enum Detail: Sendable, Equatable {
        case message(String)
        case validation([ValidationIssue])
    }

    public let status: HTTPResponse.Status
    public let detail: Detail
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.detail = .message(message)
        self.headers = headers
    }

    public init(validation issues: [ValidationIssue]) {
        self.status = .unprocessableContent
        self.detail = .validation(issues)
        self.headers = [:]
    }

    public static func notFound(_ message: String) -> APIError { APIError(.notFound, message) }
    public static func forbidden(_ message: String) -> APIError { APIError(.forbidden, message) }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, message) }
    public static func validation(_ issue: ValidationIssue) -> APIError { APIError(validation: [issue]) }

    /// 401 with `WWW-Authenticate: Bearer`, as RFC 6750 asks.
    public static func unauthorized(_ message: String = "Could not validate credentials") -> APIError {
        APIError(.unauthorized, message, headers: [.wwwAuthenticate: "Bearer"])
    }

    /// The user's tokens stopped working (logout, a password change, disabled or deleted) while a request of
    /// theirs was open.
    public static let sessionEnded = APIError.unauthorized("Your session has ended; log in again")
    public static let chatNotFound = APIError.notFound("Chat not found")
    public static let messageNotFound = APIError.notFound("Message not found")

    /// The detail as one line (validation issues are summarised).
    public var message: String {
        switch self.detail {
        case .message(let message): message
        case .validation(let issues): issues.map(\.msg).joined(separator: "; ")
        }
    }
    public static let userNotFound = APIError.notFound("User not found")

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body: Data
        switch self.detail {
        case .message(let message): body = try JSONEncoder().encode(MessageDetail(detail: message))
        case .validation(let issues): body = try JSONEncoder().encode(ValidationDetail(detail: issues))
        }
        var headers = self.headers
        headers[.contentType] = "application/json"
        return Response(status: self.status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    private struct MessageDetail: Encodable { let detail: String }
    private struct ValidationDetail: Encodable { let detail: [ValidationIssue] }
}
