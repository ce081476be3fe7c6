import ChatStorage
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import ChatServer

@Suite("Service information, health and documentation")
struct MetaAPITests {
    @Test("GET / names the service and links the docs")
    func root() async throws {
        try await withApp { client, _ in
            let response = try await client.send(.get, "/")
            #expect(response.status == .ok)
            let body = try JSONBody(response)
            #expect(body.string("name") == ChatBackend.name)
            #expect(body.string("version") == ChatBackend.version)
            #expect(body.string("docs") == "/docs")
        }
    }

    @Test("GET /health checks the database: 200 healthy, 503 once it is closed")
    func health() async throws {
        try await withApp { client, backend in
            let response = try await client.send(.get, "/health")
            #expect(response.status == .ok)
            #expect(try JSONBody(response).string("status") == "healthy")
            await backend.database.close()
            let down = try await client.send(.get, "/health")
            #expect(down.status == .serviceUnavailable)
            #expect(down.detail == "Degraded: the database cannot take writes")
        }
    }

    @Test("unknown routes are 404 JSON with a detail")
    func unknownRoute() async throws {
        try await withApp { client, _ in
            let response = try await client.send(.get, "/definitely/not/here")
            #expect(response.status == .notFound)
            #expect(response.headers[.contentType] == "application/json")
            #expect(response.detail == "Not Found")
        }
    }

    @Test("every response carries a request id and nosniff")
    func standardHeaders() async throws {
        try await withApp { client, _ in
            for uri in ["/", "/nope"] {
                let response = try await client.send(.get, uri)
                #expect(response.headers[HTTPField.Name("X-Request-ID")!]?.isEmpty == false)
                #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            }
        }
    }

    @Test("the OpenAPI document describes exactly the router's routes")
    func openAPIMatchesRouter() async throws {
        // With METRICS_TOKEN, so that every route exists (GET /metrics is routed only then).
        try await withApp(configure: { $0.metricsToken = "metrics-token-0123456789" }) { client, backend in
            let response = try await client.send(.get, "/openapi.json")
            #expect(response.status == .ok)
            let document = try JSONBody(response)
            #expect(document.string("openapi") == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented = Set<String>()
            for (path, operations) in paths {
                for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            let routed = Set(buildRouter(backend).routes.map { "\($0.method.rawValue) \($0.path.description)" })
            #expect(documented == routed.subtracting(OpenAPIDocument.undocumentedRoutes))
            #expect(OpenAPIDocument.undocumentedRoutes.isSubset(of: routed))

            let components = try #require(document["components"] as? [String: Any])
            let schemes = try #require(components["securitySchemes"] as? [String: [String: Any]])
            #expect(schemes["HTTPBearer"]?["scheme"] as? String == "bearer")
            let flows = schemes["OAuth2PasswordBearer"]?["flows"] as? [String: [String: Any]]
            #expect(flows?["password"]?["tokenUrl"] as? String == "/auth/token")

            // Every $ref points at a schema that exists.
            let schemas = try #require(components["schemas"] as? [String: Any])
            let text = response.text
            let refs = text.split(separator: "\"#/components/schemas/").dropFirst().map { $0.prefix { $0 != "\"" } }
            #expect(!refs.isEmpty)
            for ref in refs { #expect(schemas[String(ref)] != nil, "missing schema \(ref)") }
        }
    }

    @Test("no object of the OpenAPI document repeats a key (ReDoc refuses to render such a document)")
    func openAPIKeysUnique() {
        func repeated(_ value: JSONValue, at path: String) -> [String] {
            switch value {
            case .object(let members):
                var seen = Set<String>()
                let here = members.filter { !seen.insert($0.0).inserted }.map { "\(path)/\($0.0)" }
                return here + members.flatMap { repeated($0.1, at: "\(path)/\($0.0)") }
            case .array(let values):
                return values.enumerated().flatMap { repeated($0.element, at: "\(path)/\($0.offset)") }
            default:
                return []
            }
        }
        #expect(repeated(OpenAPIDocument.make(), at: "") == [])
    }

    @Test("Swagger UI and ReDoc pages load the document")
    func docsPages() async throws {
        try await withApp { client, _ in
            for uri in ["/docs", "/redoc"] {
                let response = try await client.send(.get, uri)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/html; charset=utf-8")
            }
            // ReDoc's page names the document; Swagger UI's start script (a file, for the CSP) does.
            #expect(try await client.send(.get, "/redoc").text.contains(#"spec-url="/openapi.json""#))
            let script = try await client.send(.get, "/docs/assets/swagger-init.js")
            #expect(script.text.contains(#"url: "/openapi.json""#))
        }
    }
}
