import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// Random and mutated requests against every route: whatever arrives, the answer is never a 5xx and the
/// server keeps answering /health. The generator is seeded, so a failure names a reproducible case.
@Suite("Generated input")
struct FuzzTests {
    /// SplitMix64: small, fast and reproducible across platforms.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let strings = [
        "", " ", "a", "\u{0}", "\u{FFFD}", "é", "😀", "\"", "\\", "{", "[]", "null", "-1", "0", "1e309",
        "99999999999999999999999", "<script>", "' OR 1=1 --", "../../etc/passwd", "%00", "%ZZ",
        String(repeating: "x", count: 5000),
    ]
    static let values = [
        #""text""#, "0", "-1", "1.5", "true", "false", "null", "[]", "{}", #"[1,"a",null]"#, #"{"a":{"b":[]}}"#,
        #""\u0000""#, #""\ud800""#, "1e309", "99999999999999999999999", #""\#(String(repeating: "y", count: 40_000))""#,
    ]
    static let fields = ["email", "password", "title", "message", "chat_id", "stream", "role", "disabled", "x"]

    static func body(_ random: inout Generator) -> [UInt8] {
        switch Int.random(in: 0..<10, using: &random) {
        case 0: return []
        case 1:
            return (0..<Int.random(in: 1..<64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 2: return Array(String(repeating: "[", count: 20_000).utf8)
        case 3: return Array(#"{"message": "hi", "#.utf8)
        default:
            var pairs: [String] = []
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                let field = fields.randomElement(using: &random) ?? "x"
                let value = values.randomElement(using: &random) ?? "null"
                pairs.append(#""\#(field)": \#(value)"#)
            }
            var text = "{" + pairs.joined(separator: ", ") + "}"
            if Int.random(in: 0..<5, using: &random) == 0, !text.isEmpty {
                text.removeLast(Int.random(in: 1...min(3, text.count), using: &random))
            }
            return Array(text.utf8)
        }
    }

    @Test("1,500 random and mutated requests: never a 5xx, and /health still answers")
    func generatedRequests() async throws {
        // The fuzzing user is the only admin, so admin handlers are reached too (and it cannot lose that role).
        try await withTurnApp(configure: { $0.adminEmails = ["fuzz@example.com"] }) { client, backend, _ in
            let (userID, token) = try await client.signUp("fuzz@example.com")
            let chatID = try await client.createChat(token: token)
            let routes = buildRouter(backend).routes.map { ($0.method, $0.path.description) }
            let methods: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete, .options, .head]
            var random = Generator(state: 0x5EED_0F_F022)
            var failures: [String] = []
            var statuses: [Int: Int] = [:]
            for iteration in 0..<1500 {
                let (routeMethod, pattern) = routes.randomElement(using: &random) ?? (.get, "/")
                var path = ""
                for segment in pattern.split(separator: "/") {
                    if segment.hasPrefix(":") || segment.hasPrefix("{") {
                        let choices = [
                            chatID, userID, UUID().lowercasedString, "1", "-1", "not-a-uuid", "%00", "%ZZ",
                            String(repeating: "9", count: 300),
                        ]
                        path += "/" + (choices.randomElement(using: &random) ?? "x")
                    } else {
                        path += "/" + segment
                    }
                }
                if path.isEmpty { path = "/" }
                if Bool.random(using: &random) {
                    let name = ["limit", "offset", "after", "wait", "x"].randomElement(using: &random) ?? "x"
                    // wait stays invalid or zero: a valid one would only park the request.
                    var value =
                        (Self.strings.randomElement(using: &random) ?? "")
                        .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                    if name == "wait", let number = Int(value), number > 0 && number <= 60 { value = "0" }
                    path += "?\(name)=\(value)"
                }
                let method =
                    Int.random(in: 0..<6, using: &random) == 0
                    ? (methods.randomElement(using: &random) ?? .get) : routeMethod
                var headers: HTTPFields = [:]
                switch Int.random(in: 0..<10, using: &random) {
                case 0: break
                case 1: headers[.authorization] = "Bearer garbage.\(iteration)"
                default: headers[.authorization] = "Bearer \(token)"
                }
                let contentTypes = [
                    "application/json", "application/json; charset=utf-8", "text/plain",
                    "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json",
                ]
                if Int.random(in: 0..<4, using: &random) > 0 {
                    headers[.contentType] = contentTypes.randomElement(using: &random)
                }
                // Never log out or delete the fuzzing user: the rest of the run would only see 401s.
                if path.hasPrefix("/auth/logout") || (method == .delete && path.contains(userID)) { continue }
                let body =
                    [.post, .put, .patch].contains(method) || Int.random(in: 0..<8, using: &random) == 0
                    ? Self.body(&random) : nil
                let response = try await client.execute(
                    uri: path, method: method, headers: headers, body: body.map { ByteBuffer(bytes: $0) })
                statuses[response.status.code, default: 0] += 1
                if response.status.code >= 500 {
                    failures.append(
                        "#\(iteration) \(method) \(path.prefix(120)) → \(response.status.code) \(response.text.prefix(200))"
                    )
                } else if response.status.code >= 400 && method != .head {
                    // Our routes explain with `detail`; the OpenAI-compatible ones with OpenAI's `error.message`.
                    let json = try? JSONBody(response)
                    let explained =
                        path.hasPrefix("/v1/")
                        ? ((json?["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false
                        : json?["detail"] != nil
                    if !explained { failures.append("#\(iteration) \(method) \(path.prefix(120)): no detail") }
                }
            }
            print("generated input: answers by status \(statuses.sorted { $0.key < $1.key })")
            // The mix reaches handlers, not only the validation in front of them.
            #expect(statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +) > 100)
            #expect(failures.isEmpty, "\(failures.count) bad answers:\n\(failures.prefix(20).joined(separator: "\n"))")
            #expect(try await client.send(.get, "/health").status == .ok)
        }
    }
}
