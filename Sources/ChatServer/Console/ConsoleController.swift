import HTTPTypes
import Hummingbird

/// The web console: `GET /app` (the page, revalidated on every load) and `GET /app/<version>/<name>` (its
/// scripts and styles, cached for a year). Static bytes prepared at start; no work at all while unused.
///
/// The page is sent with a Content-Security-Policy that allows scripts, styles and connections from this
/// origin only (no inline script, no eval) and forbids framing.
struct ConsoleController {
    let assets: ConsoleAssets

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

    init(assets: ConsoleAssets = ConsoleAssets()) {
        self.assets = assets
    }

    func addRoutes(to router: Router<AppRequestContext>) {
        router.get("/app", use: self.page)
        router.get("/app/:version/:asset", use: self.asset)
    }

    @Sendable func page(_ request: Request, context: AppRequestContext) -> Response {
        var response = Self.respond(with: self.assets.page, to: request, cacheControl: "no-cache")
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xFrameOptions] = "DENY"
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    @Sendable func asset(_ request: Request, context: AppRequestContext) throws -> Response {
        guard context.parameters.get("version") == self.assets.version,
            let name = context.parameters.get("asset"), let file = self.assets.assets[name]
        else { throw APIError.notFound("No such console file") }
        return Self.respond(with: file, to: request, cacheControl: "public, max-age=31536000, immutable")
    }

    /// 200 with the file, or 304 without a body when `If-None-Match` names its ETag.
    private static func respond(with file: ConsoleAssets.File, to request: Request, cacheControl: String) -> Response {
        StaticFiles.response(to: request, etag: file.etag, cacheControl: cacheControl, contentType: file.contentType) {
            ResponseBody(byteBuffer: file.body)
        }
    }
}

extension HTTPField.Name {
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
}
