import ChatServer
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing

/// GET /admin/users?email=: the users whose email contains a text, found by the server, paged like the list.
@Suite("Admin user search")
struct AdminUserSearchTests {
    private static let emails = [
        "root@example.com", "alice@example.com", "a_b@example.com", "a%b@example.com", "axb@example.com",
        "carol.smith@example.org", "élodie@exämple.com", "dan+news@example.net",
    ]

    @Test("case-insensitive substring of the email, % and _ literal, oldest first, counted and paged")
    func search() async throws {
        try await withApp(adminEmails: ["root@example.com"]) { client, _ in
            var admin = ""
            for email in Self.emails {
                let (_, token) = try await client.signUp(email)
                if email.hasPrefix("root") { admin = token }
            }
            let every = try await client.send(.get, "/admin/users", token: admin).list.compactMap {
                $0["email"] as? String
            }
            #expect(Set(every) == Set(Self.emails))
            func found(_ query: String) async throws -> (emails: [String], total: String?) {
                let response = try await client.send(.get, "/admin/users?\(query)", token: admin)
                #expect(response.status == .ok, "\(query): \(response.text)")
                return (response.list.compactMap { $0["email"] as? String }, response.headers[.init("X-Total-Count")!])
            }
            // Each answer keeps the list's order (oldest first) and counts what it found.
            for (needle, expected) in [
                ("ALICE", ["alice@example.com"]), ("a_b", ["a_b@example.com"]), ("_", ["a_b@example.com"]),
                ("a%25b", ["a%b@example.com"]), ("%25", ["a%b@example.com"]),
                (
                    "Smith%40Example.ORG",
                    [
                        "carol.smith@example.org"
                    ]
                ),
                // Normalised as emails are: trimmed, NFC (e + U+0301 is é), lower-cased (also beyond ASCII).
                ("%20%C3%89LODIE", ["élodie@exämple.com"]), ("e%CC%81lodie@ex%C3%84mple", ["élodie@exämple.com"]),
                // `+` is a plus sign, as in an email (`%2B` too), not a form's space.
                ("dan+news", ["dan+news@example.net"]), ("dan%2Bnews", ["dan+news@example.net"]),
                ("nobody", []),
            ] {
                let answer = try await found("email=\(needle)")
                #expect(answer.emails == expected, "\(needle)")
                #expect(answer.total == String(expected.count), "\(needle)")
            }
            let examples = every.filter { $0.contains("@example.com") }
            #expect(examples.count == 5)
            let page = try await found("email=%40EXAMPLE.com&limit=2&offset=1")
            #expect(page.emails == Array(examples[1...2]))
            #expect(page.total == "5")
        }
    }

    @Test("an empty, blank, over-long or NUL email is 422 naming query.email")
    func badInput() async throws {
        try await withApp(adminEmails: ["root@example.com"]) { client, _ in
            let (_, admin) = try await client.signUp("root@example.com")
            let (_, user) = try await client.signUp("user@example.com")
            #expect(try await client.send(.get, "/admin/users?email=user", token: user).status == .forbidden)
            #expect(try await client.send(.get, "/admin/users?email=user").status == .unauthorized)
            let longest = String(repeating: "x", count: 254)
            #expect(try await client.send(.get, "/admin/users?email=\(longest)", token: admin).status == .ok)
            for (query, type) in [
                ("email=", "string_too_short"), ("email=%20%09", "string_too_short"),
                ("email=\(longest)x", "string_too_long"), ("email=a%00", "value_error"),
                ("email=%E0%A4", "string_type"),
            ] {
                let bad = try await client.send(.get, "/admin/users?\(query)", token: admin)
                #expect(bad.status == .unprocessableContent, "\(query): \(bad.text)")
                #expect(bad.validationLocations == ["query.email"], "\(query): \(bad.text)")
                let issue = ((bad.json["detail"] as? [[String: Any]])?.first?["type"]) as? String
                #expect(issue == type, "\(query): \(bad.text)")
            }
        }
    }
}
