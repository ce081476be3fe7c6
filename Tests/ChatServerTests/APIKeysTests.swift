import ChatAuth
import ChatServer
import ChatStorage
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// Per-user API keys over HTTP (on the engine `TEST_DATABASE_URL` picks): managed with a JWT, shown once,
/// opening the `/v1` routes only, refused at once when deleted, expired or their user disabled or deleted.
@Suite("API keys and the /v1 door")
struct APIKeysTests {
    static func models(_ config: inout AppConfig) { config.allowedModels = ["model-a", "model-b", "model-c"] }

    /// Creates a key with `body`; its JSON answer (the test fails unless it is 201).
    static func createKey(_ client: some TestClientProtocol, token: String, _ body: String = #"{"name": "ci"}"#)
        async throws -> [String: Any]
    {
        let response = try await client.send(.post, "/auth/me/api-keys", token: token, json: body)
        #expect(response.status == .created, "\(response.text)")
        return response.json
    }

    /// The OpenAI error of an answer: status, `type`, `code`.
    static func openAIError(_ response: TestResponse) -> (HTTPResponse.Status, String?, String?) {
        let error = response.json["error"] as? [String: Any]
        return (response.status, error?["type"] as? String, error?["code"] as? String)
    }

    @Test("a key is shown once, listed without it, stored as its SHA-256, and opens /v1 only")
    func shownOnceAndV1Only() async throws {
        try await withApp(configure: Self.models) { client, backend in
            let (_, token) = try await client.signUp("keys@example.com")
            let created = try await Self.createKey(client, token: token)
            let key = try #require(created["key"] as? String)
            #expect(key.hasPrefix("sk-") && key.count == 3 + 43, "sk- and base64url of 32 bytes")
            #expect(created["prefix"] as? String == String(key.dropFirst(3).prefix(8)))
            #expect(created["expires_at"] is NSNull && created["models"] is NSNull && created["last_used_at"] is NSNull)
            let stored = try #require(try await backend.database.apiKeyOwner(hash: try SHA256.hexDigest(key.utf8)))
            #expect(stored.key.id.lowercasedString == created["id"] as? String)

            let listed = try await client.send(.get, "/auth/me/api-keys", token: token)
            #expect(listed.status == .ok)
            #expect(listed.list.count == 1 && listed.list.allSatisfy { $0["key"] == nil })
            #expect(listed.list.first?["usage"] as? [String: Int] == ["requests": 0, "total_tokens": 0])

            let models = try await client.send(.get, "/v1/models", token: key)
            #expect(models.status == .ok, "\(models.text)")
            #expect(models.json["object"] as? String == "list")
            let data = models.json["data"] as? [[String: Any]] ?? []
            #expect(data.map { $0["id"] as? String } == ["model-a", "model-b", "model-c"])
            #expect(data.allSatisfy { $0["object"] as? String == "model" && $0["created"] is Int })

            // Anywhere else the key is a bad token: it cannot mint keys, read chats or change the account.
            for (method, path, body) in [
                (HTTPRequest.Method.get, "/chats", nil), (.get, "/auth/me", nil), (.get, "/models", nil),
                (.post, "/auth/me/api-keys", #"{"name": "more"}"#), (.get, "/auth/me/api-keys", nil),
            ] {
                let refused = try await client.send(method, path, token: key, json: body)
                #expect(refused.status == .unauthorized, "\(method) \(path)")
                #expect(refused.detail == "Could not validate credentials", "\(method) \(path)")
            }
        }
    }

    @Test("/v1: OpenAI's error shape, 401 invalid_api_key for a missing, unknown or malformed credential")
    func openAIErrors() async throws {
        try await withApp(configure: Self.models) { client, _ in
            let (_, token) = try await client.signUp("errors@example.com")
            let key = try #require(try await Self.createKey(client, token: token)["key"] as? String)
            for credential in [nil, "sk-unknown", String(key.dropLast()), "not-a-jwt"] {
                let response = try await client.send(.get, "/v1/models", token: credential)
                #expect(
                    Self.openAIError(response) == (.unauthorized, "invalid_request_error", "invalid_api_key"),
                    "\(credential ?? "none")")
                #expect(response.headers[.wwwAuthenticate] == "Bearer")
            }
            // A path under /v1 that does not exist answers in the same shape.
            let missing = try await client.send(.get, "/v1/nothing", token: key)
            #expect(missing.status == .notFound && (missing.json["error"] as? [String: Any])?["message"] != nil)
        }
    }

    @Test("the API's errors in OpenAI's shape: 422 is 400 naming the field, 429 and 5xx keep Retry-After")
    func errorMapping() {
        let validation = OpenAIError(
            APIError(validation: [
                ValidationIssue(loc: ["body", "messages", .index(0), "role"], msg: "bad", type: "enum")
            ]))
        #expect(validation.status == .badRequest && validation.type == "invalid_request_error")
        #expect(validation.param == "messages.role" && validation.code == nil && validation.message == "bad")
        let limited = OpenAIError(APIError(.tooManyRequests, "slow down", headers: [.retryAfter: "3"]))
        #expect(limited.status == .tooManyRequests && limited.code == "rate_limit_exceeded")
        #expect(limited.headers[.retryAfter] == "3")
        let unavailable = OpenAIError(APIError(.serviceUnavailable, "busy", headers: [.retryAfter: "1"]))
        #expect(unavailable.type == "server_error" && unavailable.headers[.retryAfter] == "1")
        #expect(OpenAIError(APIError.unauthorized()) == OpenAIError.invalidAPIKey)
        #expect(OpenAIError(APIError.notFound("Not Found")).type == "invalid_request_error")
    }

    @Test("/v1/models: a key restricted to some models lists only those; a JWT lists every model on offer")
    func modelsPerKey() async throws {
        try await withApp(configure: Self.models) { client, _ in
            let (_, token) = try await client.signUp("models@example.com")
            let created = try await Self.createKey(
                client, token: token, #"{"name": "two", "models": ["model-c", "model-a", "model-c"]}"#)
            #expect(created["models"] as? [String] == ["model-c", "model-a"], "in the order given, each once")
            let key = try #require(created["key"] as? String)
            func listed(_ credential: String) async throws -> [String] {
                let response = try await client.send(.get, "/v1/models", token: credential)
                #expect(response.status == .ok)
                return (response.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            }
            #expect(try await listed(key) == ["model-a", "model-c"])
            #expect(try await listed(token) == ["model-a", "model-b", "model-c"])
        }
    }

    @Test("creating: 422 naming the field for a bad name, expiry, budget or model")
    func validation() async throws {
        try await withApp(configure: Self.models) { client, _ in
            let (_, token) = try await client.signUp("valid@example.com")
            let long = String(repeating: "n", count: 101)
            for (body, location) in [
                (#"{"name": ""}"#, "body.name"), (#"{"name": "\#(long)"}"#, "body.name"), ("{}", "body.name"),
                (#"{"name": "x", "expires_in_days": 0}"#, "body.expires_in_days"),
                (#"{"name": "x", "expires_in_days": 3651}"#, "body.expires_in_days"),
                (#"{"name": "x", "monthly_token_budget": 0}"#, "body.monthly_token_budget"),
                (#"{"name": "x", "models": []}"#, "body.models"),
                (#"{"name": "x", "models": ["model-a", "nope"]}"#, "body.models.1"),
                (#"{"name": "x", "models": "model-a"}"#, "body.models"),
            ] {
                let response = try await client.send(.post, "/auth/me/api-keys", token: token, json: body)
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(response.validationLocations == [location], "\(body): \(response.text)")
            }
            let fine = try await Self.createKey(
                client, token: token, #"{"name": "x", "expires_in_days": 3650, "monthly_token_budget": 1}"#)
            #expect(fine["monthly_token_budget"] as? Int == 1 && fine["expires_at"] is String)
            #expect(try await client.send(.get, "/auth/me/api-keys", token: token).list.count == 1)
        }
    }

    @Test("at most 50 keys a user: the 51st is 422, and deleting one makes room")
    func cap() async throws {
        try await withApp { client, _ in
            let (_, token) = try await client.signUp("cap@example.com")
            var ids: [String] = []
            for index in 0..<apiKeysPerUser {
                ids.append(
                    try #require(
                        try await Self.createKey(client, token: token, #"{"name": "k\#(index)"}"#)["id"] as? String))
            }
            let over = try await client.send(.post, "/auth/me/api-keys", token: token, json: #"{"name": "over"}"#)
            #expect(over.status == .unprocessableContent && over.validationLocations == ["body"], "\(over.text)")
            #expect(try await client.send(.delete, "/auth/me/api-keys/\(ids[0])", token: token).status == .noContent)
            _ = try await Self.createKey(client, token: token, #"{"name": "again"}"#)
        }
    }

    @Test("deleting a key refuses it at once; another user's key id is 404 and stays usable")
    func deletion() async throws {
        try await withApp { client, _ in
            let (_, owner) = try await client.signUp("owner@example.com")
            let (_, stranger) = try await client.signUp("stranger@example.com")
            let created = try await Self.createKey(client, token: owner)
            let (id, key) = (try #require(created["id"] as? String), try #require(created["key"] as? String))
            #expect(try await client.send(.get, "/v1/models", token: key).status == .ok)
            let foreign = try await client.send(.delete, "/auth/me/api-keys/\(id)", token: stranger)
            #expect(foreign.status == .notFound && foreign.detail == "API key not found")
            #expect(try await client.send(.get, "/v1/models", token: key).status == .ok)
            #expect(try await client.send(.delete, "/auth/me/api-keys/\(id)", token: owner).status == .noContent)
            #expect(Self.openAIError(try await client.send(.get, "/v1/models", token: key)).2 == "invalid_api_key")
            #expect(try await client.send(.delete, "/auth/me/api-keys/\(id)", token: owner).status == .notFound)
            #expect(try await client.send(.get, "/auth/me/api-keys", token: owner).list.isEmpty)
        }
    }

    @Test("admins list and delete anyone's keys; others get 403")
    func admin() async throws {
        try await withApp(adminEmails: ["admin@example.com"]) { client, _ in
            let (_, admin) = try await client.signUp("admin@example.com")
            let (userID, user) = try await client.signUp("user@example.com")
            let created = try await Self.createKey(client, token: user)
            let (id, key) = (try #require(created["id"] as? String), try #require(created["key"] as? String))
            #expect(try await client.send(.get, "/admin/api-keys?user_id=\(userID)", token: user).status == .forbidden)
            #expect(try await client.send(.delete, "/admin/api-keys/\(id)", token: user).status == .forbidden)

            let listed = try await client.send(.get, "/admin/api-keys?user_id=\(userID)", token: admin)
            #expect(listed.status == .ok && listed.list.map { $0["id"] as? String } == [id])
            #expect(listed.list.allSatisfy { $0["key"] == nil })
            let missing = try await client.send(.get, "/admin/api-keys", token: admin)
            #expect(missing.status == .unprocessableContent && missing.validationLocations == ["query.user_id"])
            let malformed = try await client.send(.get, "/admin/api-keys?user_id=nope", token: admin)
            #expect(malformed.validationLocations == ["query.user_id"])
            let unknown = try await client.send(.get, "/admin/api-keys?user_id=\(UUID().uuidString)", token: admin)
            #expect(unknown.status == .notFound)

            #expect(try await client.send(.delete, "/admin/api-keys/\(id)", token: admin).status == .noContent)
            #expect(try await client.send(.get, "/v1/models", token: key).status == .unauthorized)
            #expect(try await client.send(.delete, "/admin/api-keys/\(id)", token: admin).status == .notFound)
        }
    }

    @Test("disabling or deleting a user refuses their keys at once; enabling them again opens them")
    func userStates() async throws {
        try await withApp(adminEmails: ["admin@example.com"]) { client, _ in
            let (_, admin) = try await client.signUp("admin@example.com")
            let (userID, user) = try await client.signUp("user@example.com")
            let key = try #require(try await Self.createKey(client, token: user)["key"] as? String)
            #expect(try await client.send(.get, "/v1/models", token: key).status == .ok)
            func setDisabled(_ disabled: Bool) async throws {
                let response = try await client.send(
                    .patch, "/admin/users/\(userID)", token: admin, json: #"{"disabled": \#(disabled)}"#)
                #expect(response.status == .ok)
            }
            try await setDisabled(true)
            #expect(Self.openAIError(try await client.send(.get, "/v1/models", token: key)).2 == "invalid_api_key")
            try await setDisabled(false)
            #expect(try await client.send(.get, "/v1/models", token: key).status == .ok)
            #expect(try await client.send(.delete, "/admin/users/\(userID)", token: admin).status == .noContent)
            #expect(try await client.send(.get, "/v1/models", token: key).status == .unauthorized)
        }
    }

    @Test("an expired key is refused (401 invalid_api_key); one that expires later is not")
    func expiry() async throws {
        try await withApp { client, backend in
            let (userID, _) = try await client.signUp("expiry@example.com")
            let user = try #require(UUID(uuidString: userID))
            func key(expiringIn seconds: Int64) async throws -> String {
                let key = "sk-" + Base64.encode(try SecureRandom.bytes(32))
                let expiresAt = Timestamp(microseconds: Timestamp.now().microseconds + seconds * 1_000_000)
                let created = try await backend.database.createAPIKey(
                    NewAPIKey(
                        userID: user, name: "e", hash: try SHA256.hexDigest(key.utf8), prefix: "p",
                        expiresAt: expiresAt,
                        models: nil, monthlyTokenBudget: nil), limit: apiKeysPerUser)
                guard case .created = created else { throw StorageError.corruptRow("api_keys") }
                return key
            }
            let expired = try await key(expiringIn: -1)
            #expect(Self.openAIError(try await client.send(.get, "/v1/models", token: expired)).2 == "invalid_api_key")
            #expect(try await client.send(.get, "/v1/models", token: try await key(expiringIn: 3600)).status == .ok)
        }
    }

    @Test("using a key records last_used_at, off the request's path (the once-a-minute rule: the storage contract)")
    func lastUsed() async throws {
        try await withApp { client, backend in
            let (_, token) = try await client.signUp("used@example.com")
            let key = try #require(try await Self.createKey(client, token: token)["key"] as? String)
            #expect(try await client.send(.get, "/v1/models", token: key).status == .ok)
            let hash = try SHA256.hexDigest(key.utf8)
            #expect(
                try await eventually(within: .seconds(5)) {
                    try await backend.database.apiKeyOwner(hash: hash)?.key.lastUsedAt != nil
                })
            let first = try await backend.database.apiKeyOwner(hash: hash)?.key.lastUsedAt
            let listed = try await client.send(.get, "/auth/me/api-keys", token: token)
            #expect(listed.list.first?["last_used_at"] as? String == first?.iso8601)
        }
    }
}
