import ChatStorage
import ChatStoragePostgres
import ChatStorageSQLite
import Foundation
import Logging
import Testing

/// An engine the storage contract runs against: SQLite always, PostgreSQL when the suite has a server
/// (`TEST_DATABASE_URL`, as `Tests/scripts/with-postgres` and `make test` set it). Every contract test takes
/// one as its argument, so one `swift test` run checks both engines against the same expectations.
enum StorageEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    /// The engines this run can open.
    static let available: [StorageEngine] = TestDatabase.isPostgres ? [.sqlite, .postgres] : [.sqlite]

    var description: String { self.rawValue }

    /// Runs `body` with a fresh, empty store of this engine (a new SQLite file, or a new PostgreSQL database),
    /// closed afterwards whatever happens.
    func withStore(_ body: (any ChatStore) async throws -> Void) async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let store = try await self.open(directory + "/contract.db")
        do {
            try await body(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
    }

    /// Runs `first` with a fresh store, then `second` with the same data opened anew (as after a restart) and
    /// what `first` returned.
    func withReopenedStore<T>(
        _ first: (any ChatStore) async throws -> T, then second: (any ChatStore, T) async throws -> Void
    ) async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        let path = directory + "/contract.db"
        let store = try await self.open(path)
        let carried: T
        do {
            carried = try await first(store)
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        let reopened = try await self.open(path)
        do {
            try await second(reopened, carried)
        } catch {
            await reopened.close()
            throw error
        }
        await reopened.close()
    }

    /// Runs `body` with the stores of every process one deployment can have on a fresh database: SQLite's one
    /// (a file has one process), or two PostgreSQL replicas of one database.
    func withReplicas(_ body: ([any ChatStore]) async throws -> Void) async throws {
        let directory = try makeTemporaryDirectory()
        defer { removeTemporaryDirectory(directory) }
        var stores = [try await self.open(directory + "/contract.db")]
        do {
            if self == .postgres { stores.append(try await self.open(directory + "/contract.db")) }
            try await body(stores)
        } catch {
            for store in stores { await store.close() }
            throw error
        }
        for store in stores { await store.close() }
    }

    /// The store for the SQLite file at `path`, or a PostgreSQL database standing in for it.
    private func open(_ path: String) async throws -> any ChatStore {
        switch self {
        case .sqlite:
            return try await DatabaseActor.open(path: path)
        case .postgres:
            let location = try #require(TestDatabase.postgres(standingInFor: path), "no PostgreSQL in this run")
            return try await PostgresStore.open(location, maxConnections: 4, logger: Logger(label: "contract"))
        }
    }
}

/// Text with a NUL (U+0000), which PostgreSQL's `text` cannot hold and every engine refuses alike.
let nulText = "a\u{0}b"

/// An id no row has.
let unknownID = UUID()

/// A far-off day, so quotas and usage never meet the real calendar.
let contractDay = UsageDay(number: 20_000)

extension ChatStore {
    /// A new user with a throwaway hash.
    func makeUser(_ email: String, role: UserRole = .user) async throws -> UserRecord {
        try await self.createUser(email: email, passwordHash: "hash-of-\(email)", role: role)
    }

    /// A user and one chat of theirs.
    func makeOwnedChat(_ email: String = "owner@example.com", title: String? = "chat") async throws -> (
        user: UserRecord, chat: ChatRecord
    ) {
        let user = try await self.makeUser(email)
        return (user, try await self.createChat(userID: user.id, title: title))
    }

    /// A turn after the chat's active path, begun and ended `complete` with `reply`: the user's message and
    /// the reply as saved.
    @discardableResult
    func completeTurn(
        chatID: UUID, _ question: String, reply: String, charge: UsageCharge? = nil,
        reservation: TokenReservation? = nil
    ) async throws -> (user: MessageRecord, assistant: MessageRecord) {
        let begun = try #require(
            try await self.beginTurn(chatID: chatID, userContent: question, reservation: reservation))
        let finished = try #require(
            try await self.finishMessage(
                id: begun.assistant.id,
                outcome: MessageOutcome(
                    content: reply, status: .complete, model: "m", promptTokens: 3, completionTokens: 2,
                    charge: charge)))
        return (begun.user, finished)
    }

    /// A turn's start after the active path as it is now, read and begun as the turn machinery does.
    func beginTurn(chatID: UUID, userContent: String, reservation: TokenReservation? = nil) async throws -> (
        user: MessageRecord, assistant: MessageRecord
    )? {
        guard
            let context = try await self.turnContext(
                chatID: chatID, ownerID: nil, window: HistoryWindow(messages: 100), placement: .activePath)
        else { return nil }
        return try await self.beginTurn(
            chatID: chatID, placement: .activePath, parentID: context.parentID, userContent: userContent,
            model: "m", contextThrough: context.lastMessageID, reservation: reservation)
    }

    /// The chat's active path, oldest first, as its contents.
    func pathContents(_ chatID: UUID) async throws -> [String] {
        try #require(try await self.messages(chatID: chatID, ownerID: nil, after: 0, limit: 1_000)).map(\.content)
    }

    /// The chat's `messages_version`.
    func messagesVersion(_ chatID: UUID) async throws -> Int64 {
        let page = try await self.messagePage(chatID: chatID, ownerID: nil, after: 0, limit: 1, knownVersion: nil)
        guard case .messages(_, let version) = page else { throw StorageError.corruptRow("chats") }
        return version
    }
}
