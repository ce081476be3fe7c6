import ChatStorage
import Foundation
import Testing

/// The contract of usage accounting and token quotas, on every engine: what a charge adds, the sums per day
/// and per user, a user's own quotas, and a turn's admission against them.
@Suite("Storage contract: usage and quotas")
struct StorageContractUsageTests {
    static func charge(_ user: UUID, _ day: UsageDay, _ prompt: Int, _ completion: Int, estimated: Bool = false)
        -> UsageCharge
    {
        UsageCharge(userID: user, day: day, promptTokens: prompt, completionTokens: completion, estimated: estimated)
    }

    /// Accounts a call as a title's would be (the chat keeps its title: only the charge is written).
    static func account(_ store: any ChatStore, _ charge: UsageCharge, chat: UUID) async throws {
        try await store.setTitleIfEmpty(chatID: chat, title: "t", charge: charge)
    }

    @Test("quotaStanding and usage: today, this month, by day oldest first", arguments: StorageEngine.available)
    func standingAndUsage(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let today = contractDay
            #expect(today.adding(days: -1).monthStart == today.monthStart, "yesterday is in this month")
            let lastMonth = today.monthStart.adding(days: -1)
            for charge in [
                Self.charge(user.id, today, 10, 5), Self.charge(user.id, today, 1, 1, estimated: true),
                Self.charge(user.id, today.adding(days: -1), 100, 0), Self.charge(user.id, lastMonth, 1_000, 0),
            ] {
                try await Self.account(store, charge, chat: chat.id)
            }
            #expect(
                try await store.quotaStanding(userID: user.id, today: today)
                    == QuotaStanding(usedToday: 17, usedThisMonth: 117, reserved: 0))
            #expect(
                try await store.quotaStanding(userID: unknownID, today: today)
                    == QuotaStanding(usedToday: 0, usedThisMonth: 0, reserved: 0))
            let days = try await store.usage(userID: user.id, from: lastMonth, to: today)
            #expect(days.map(\.day) == [lastMonth, today.adding(days: -1), today])
            #expect(
                days.last?.totals
                    == UsageTotals(requests: 2, promptTokens: 11, completionTokens: 6, estimatedRequests: 1))
            #expect(days.allSatisfy { $0.userID == user.id })
            #expect(
                try await store.usage(userID: user.id, from: today.adding(days: 1), to: today.adding(days: 9)).isEmpty)
        }
    }

    @Test(
        "usageByUser: heaviest first by tokens or by requests, ties by id, pages, the count and the totals",
        arguments: StorageEngine.available)
    func byUser(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (heavy, heavyChat) = try await store.makeOwnedChat("heavy@example.com")
            let (busy, busyChat) = try await store.makeOwnedChat("busy@example.com")
            _ = try await store.makeUser("idle@example.com")
            try await Self.account(store, Self.charge(heavy.id, contractDay, 900, 100), chat: heavyChat.id)
            for _ in 0..<3 {
                try await Self.account(store, Self.charge(busy.id, contractDay, 10, 0), chat: busyChat.id)
            }
            try await Self.account(
                store, Self.charge(busy.id, contractDay.adding(days: -30), 5_000, 0), chat: busyChat.id)
            let range = (from: contractDay.adding(days: -1), to: contractDay)
            let tokens = try await store.usageByUser(
                from: range.from, to: range.to, order: .tokens, limit: 10, offset: 0)
            #expect(tokens.users.map(\.email) == ["heavy@example.com", "busy@example.com"])
            #expect(tokens.users.first?.totals == UsageTotals(requests: 1, promptTokens: 900, completionTokens: 100))
            #expect(tokens.userCount == 2)
            #expect(tokens.totals == UsageTotals(requests: 4, promptTokens: 930, completionTokens: 100))
            let requests = try await store.usageByUser(
                from: range.from, to: range.to, order: .requests, limit: 1, offset: 0)
            #expect(requests.users.map(\.userID) == [busy.id] && requests.userCount == 2)
            let second = try await store.usageByUser(
                from: range.from, to: range.to, order: .requests, limit: 1, offset: 1)
            #expect(second.users.map(\.userID) == [heavy.id])
            // Equal usage: by user id.
            try await Self.account(store, Self.charge(busy.id, contractDay, 960, 10), chat: busyChat.id)
            let tied = try await store.usageByUser(from: range.from, to: range.to, order: .tokens, limit: 10, offset: 0)
            #expect(
                tied.users.map(\.userID) == [heavy.id, busy.id].sorted { $0.lowercasedString < $1.lowercasedString })
            let none = try await store.usageByUser(
                from: contractDay.adding(days: 1), to: contractDay.adding(days: 2), order: .tokens, limit: 10, offset: 0
            )
            #expect(none.users.isEmpty && none.userCount == 0 && none.totals == UsageTotals())
        }
    }

    @Test(
        "setTokenQuotas: a user's own quotas, read back at once; nil for no such user",
        arguments: StorageEngine.available)
    func quotas(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let user = try await store.makeUser("q@example.com")
            _ = try await store.currentUser(id: user.id)
            let set = try #require(try await store.setTokenQuotas(userID: user.id, daily: 100, monthly: 0))
            #expect(set.dailyTokenQuota == 100 && set.monthlyTokenQuota == 0)
            #expect(try await store.currentUser(id: user.id) == set, "the cache was emptied")
            let cleared = try #require(try await store.setTokenQuotas(userID: user.id, daily: nil, monthly: nil))
            #expect(cleared.dailyTokenQuota == nil && cleared.monthlyTokenQuota == nil)
            #expect(try await store.setTokenQuotas(userID: unknownID, daily: 1, monthly: 1) == nil)
        }
    }

    @Test(
        "a turn is admitted while used plus reserved stays below each quota, and refused as quotaExceeded",
        arguments: StorageEngine.available)
    func admission(_ engine: StorageEngine) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let other = try await store.createChat(userID: user.id, title: nil)
            let refused = try await store.createChat(userID: user.id, title: nil)
            try await Self.account(store, Self.charge(user.id, contractDay.adding(days: -1), 60, 0), chat: chat.id)
            func reservation(_ tokens: Int, daily: Int64?, monthly: Int64?) -> TokenReservation {
                TokenReservation(
                    userID: user.id, tokens: tokens, today: contractDay, dailyLimit: daily, monthlyLimit: monthly)
            }
            let held = try #require(
                try await store.beginTurn(
                    chatID: chat.id, userContent: "q", reservation: reservation(30, daily: 31, monthly: 1_000)))
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 30)
            // 30 reserved, 0 used today: one more token of room today; 90 of 91 this month.
            #expect(
                try await store.beginTurn(
                    chatID: other.id, userContent: "fits", reservation: reservation(5, daily: 31, monthly: 91)) != nil)
            await #expect(throws: StorageError.quotaExceeded(.daily)) {
                _ = try await store.beginTurn(
                    chatID: refused.id, userContent: "q", reservation: reservation(1, daily: 35, monthly: nil))
            }
            await #expect(throws: StorageError.quotaExceeded(.monthly)) {
                _ = try await store.beginTurn(
                    chatID: refused.id, userContent: "q", reservation: reservation(1, daily: nil, monthly: 95))
            }
            #expect(try await store.pathContents(refused.id) == [], "a refused turn saves nothing")
            try await store.finishMessage(
                id: held.assistant.id,
                outcome: MessageOutcome(
                    content: "a", status: .complete, charge: Self.charge(user.id, contractDay, 3, 2)))
            #expect(
                try await store.quotaStanding(userID: user.id, today: contractDay)
                    == QuotaStanding(usedToday: 5, usedThisMonth: 65, reserved: 5), "the reservation became its usage")
        }
    }

    @Test(
        "reservations add up per user, end with their reply, their chat or a restart, and admit one at a time",
        arguments: StorageEngine.available)
    func reservations(_ engine: StorageEngine) async throws {
        try await engine.withReopenedStore { store in
            let user = try await store.makeUser("store@example.com")
            func begin(_ chat: ChatRecord, _ tokens: Int) async throws -> MessageRecord? {
                let reservation = TokenReservation(
                    userID: user.id, tokens: tokens, today: contractDay, dailyLimit: 100, monthlyLimit: nil)
                return try await store.beginTurn(chatID: chat.id, userContent: "q", reservation: reservation)?.assistant
            }
            var chats: [ChatRecord] = []
            for title in ["a", "b", "c", "d"] {
                chats.append(try await store.createChat(userID: user.id, title: title))
            }
            let ended = try #require(try await begin(chats[0], 60))
            _ = try #require(try await begin(chats[1], 30))
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 90)
            // 90 reserved of 100: one more is admitted, and then none.
            _ = try #require(try await begin(chats[2], 50))
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 140)
            await #expect(throws: StorageError.quotaExceeded(.daily)) { _ = try await begin(chats[3], 1) }
            // A reply that ends gives its reservation back and is charged what it used.
            try await store.finishMessage(
                id: ended.id,
                outcome: MessageOutcome(
                    content: "done", status: .complete,
                    charge: Self.charge(user.id, contractDay, 20, 5)))
            #expect(
                try await store.quotaStanding(userID: user.id, today: contractDay)
                    == QuotaStanding(usedToday: 25, usedThisMonth: 25, reserved: 80))
            // A chat deleted under its running reply gives it back too (the reply never ends).
            #expect(try await store.deleteChat(id: chats[1].id, ownerID: user.id))
            #expect(try await store.quotaStanding(userID: user.id, today: contractDay).reserved == 50)
            return (user: user.id, chat: chats[2].id)
        } then: { store, left in
            // A reply its store left running is failed after a restart, and gives its reservation back.
            _ = try await store.failInterruptedTurns()
            #expect(try await store.quotaStanding(userID: left.user, today: contractDay).reserved == 0)
            // A stale context (a message saved after it was read) is refused, for the caller to read again.
            await #expect(throws: StorageError.chatBusy) {
                _ = try await store.beginTurn(
                    chatID: left.chat, userContent: "q", model: "m", contextThrough: 0, reservation: nil)
            }
        }
    }
}
