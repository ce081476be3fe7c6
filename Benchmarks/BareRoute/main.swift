import Hummingbird
import NIOCore

// bare-route: a Hummingbird server with one route and no middleware, answering `GET /health` with the same
// body as chat-server's. It is the framework's own cost per request, the floor that
// `Benchmarks/wrk/read-path` compares chat-server's routes with in the same run.
//
//   bare-route [PORT]     (default 18703; listens on 127.0.0.1)

let port = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 18703
let router = Router()
router.get("/health") { _, _ -> Response in
    Response(
        status: .ok,
        headers: [.contentType: "application/json; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: #"{"status":"healthy"}"#))
    )
}
let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
try await app.runService()
