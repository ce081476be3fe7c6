import ChatStorage
import Foundation
import Testing

/// ``AccountRules`` case by case: which changes need another active admin, and which revoke tokens. The engines'
/// agreement with these rules is shown by the admin API tests, run on both engines.
@Suite("Account rules")
struct AccountRulesTests {
    private static func user(_ role: UserRole, disabled: Bool = false) -> UserRecord {
        UserRecord(
            id: UUID(), email: "rules@example.com", passwordHash: "h", role: role, tokenVersion: 1,
            createdAt: Timestamp(microseconds: 0), disabled: disabled, dailyTokenQuota: nil, monthlyTokenQuota: nil)
    }

    private static let changes: [AccountRules.Change] = [
        .role(.admin), .role(.user), .disabled(true), .disabled(false), .deletion,
    ]

    @Test("only a change that takes an active admin away needs another active admin")
    func removesActiveAdmin() {
        let removing: [AccountRules.Change] = [.role(.user), .disabled(true), .deletion]
        for change in Self.changes {
            #expect(AccountRules.removesActiveAdmin(Self.user(.admin), change) == removing.contains(change))
            #expect(!AccountRules.removesActiveAdmin(Self.user(.admin, disabled: true), change), "\(change)")
            #expect(!AccountRules.removesActiveAdmin(Self.user(.user), change), "\(change)")
        }
    }

    @Test("the last active admin cannot be demoted, disabled or deleted; the count is read only when it matters")
    func lastAdmin() throws {
        for change in [AccountRules.Change.role(.user), .disabled(true), .deletion] {
            #expect(throws: StorageError.lastAdmin) {
                try AccountRules.check(change, of: Self.user(.admin), activeAdmins: { 1 })
            }
            try AccountRules.check(change, of: Self.user(.admin), activeAdmins: { 2 })
            try AccountRules.check(change, of: Self.user(.user)) {
                Issue.record("the count was read for a user who is not an admin")
                return 0
            }
        }
    }

    @Test("disabling an enabled account bumps its token version; nothing else does")
    func tokenVersion() {
        #expect(AccountRules.tokenVersionBump(Self.user(.user), .disabled(true)) == 1)
        #expect(AccountRules.tokenVersionBump(Self.user(.user, disabled: true), .disabled(true)) == 0)
        for change in [AccountRules.Change.role(.admin), .role(.user), .disabled(false), .deletion] {
            #expect(AccountRules.tokenVersionBump(Self.user(.admin), change) == 0, "\(change)")
        }
    }
}
