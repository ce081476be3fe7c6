import ChatStorage
import Foundation
import Testing

/// A turn's admission against its user's quotas, case by case. The rule is stated once, in Swift
/// (``QuotaStanding/exceeded(dailyLimit:monthlyLimit:)``); SQLite's `beginTurn` calls it, PostgreSQL's
/// `begin_turn` restates it in PL/pgSQL so that admission and reservation are one statement across replicas.
/// Each case sets up a standing on a fresh store and checks that the engine sums it as the rule reads it and
/// answers what the rule answers.
@Suite("Storage contract: turn admission")
struct StorageContractAdmissionTests {
    /// A user's standing to set up, and the limits of the turn that then asks to be admitted.
    struct Case: Sendable, CustomStringConvertible {
        var usedToday: Int64 = 0
        /// Used on an earlier day of `today`'s month (counts for the month, not the day).
        var usedEarlierThisMonth: Int64 = 0
        /// Used the month before (counts for neither).
        var usedLastMonth: Int64 = 0
        /// Held by another running turn of the user.
        var reserved: Int64 = 0
        var daily: Int64?
        var monthly: Int64?

        var standing: QuotaStanding {
            QuotaStanding(
                usedToday: self.usedToday, usedThisMonth: self.usedToday + self.usedEarlierThisMonth,
                reserved: self.reserved)
        }

        var description: String {
            "today \(self.usedToday), month +\(self.usedEarlierThisMonth), last month \(self.usedLastMonth), "
                + "reserved \(self.reserved), limits \(self.daily.map(String.init) ?? "-")/"
                + "\(self.monthly.map(String.init) ?? "-")"
        }
    }

    static let cases: [Case] = [
        Case(usedToday: 50, daily: nil, monthly: 1_000_000),
        Case(daily: 0),
        Case(monthly: 0),
        Case(usedToday: 9, daily: 10),
        Case(usedToday: 10, daily: 10),
        Case(usedToday: 4, reserved: 5, daily: 10),
        Case(usedToday: 5, reserved: 5, daily: 10),
        Case(usedEarlierThisMonth: 90, daily: 10, monthly: 100),
        Case(usedToday: 5, usedEarlierThisMonth: 94, daily: 10, monthly: 100),
        Case(usedToday: 5, usedEarlierThisMonth: 90, reserved: 5, daily: 20, monthly: 100),
        Case(usedLastMonth: 500, daily: 10, monthly: 100),
        Case(usedToday: 10, usedEarlierThisMonth: 200, daily: 10, monthly: 100),
        Case(usedToday: 2, usedEarlierThisMonth: 200, daily: 10, monthly: 100),
    ]

    @Test(
        "each engine sums the standing the rule reads, and admits or refuses as the Swift rule does",
        arguments: StorageEngine.available, cases)
    func admission(_ engine: StorageEngine, _ situation: Case) async throws {
        try await engine.withStore { store in
            let (user, chat) = try await store.makeOwnedChat()
            let today = contractDay
            let charges = [
                (today, situation.usedToday), (today.monthStart, situation.usedEarlierThisMonth),
                (today.monthStart.adding(days: -1), situation.usedLastMonth),
            ]
            for (day, tokens) in charges where tokens > 0 {
                try await store.setTitleIfEmpty(
                    chatID: chat.id, title: "t",
                    charge: UsageCharge(
                        userID: user.id, day: day, promptTokens: Int(tokens), completionTokens: 0, estimated: false))
            }
            if situation.reserved > 0 {
                let holder = try await store.createChat(userID: user.id, title: "h")
                let hold = TokenReservation(
                    userID: user.id, tokens: Int(situation.reserved), today: today, dailyLimit: nil,
                    monthlyLimit: Int64.max)
                _ = try #require(try await store.beginTurn(chatID: holder.id, userContent: "q", reservation: hold))
            }
            #expect(try await store.quotaStanding(userID: user.id, today: today) == situation.standing)
            let asking = try await store.createChat(userID: user.id, title: "a")
            let reservation = TokenReservation(
                userID: user.id, tokens: 1, today: today, dailyLimit: situation.daily, monthlyLimit: situation.monthly)
            let expected = situation.standing.exceeded(by: reservation)
            do {
                let started = try await store.beginTurn(chatID: asking.id, userContent: "q", reservation: reservation)
                #expect(expected == nil, "admitted where the rule refuses (\(expected.map(\.rawValue) ?? ""))")
                #expect(started != nil)
            } catch StorageError.quotaExceeded(let period) {
                #expect(period == expected, "refused as \(period.rawValue)")
                #expect(try await store.pathContents(asking.id) == [], "a refused turn saves nothing")
            }
        }
    }
}
