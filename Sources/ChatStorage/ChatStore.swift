import Foundation
import ServiceLifecycle

/// The durable store of users, chats, messages and settings: what the HTTP layer and the turns depend on,
/// whatever engine is under it (SQLite's `DatabaseActor`, PostgreSQL's `PostgresStore`).
///
/// Every engine guarantees:
/// - Durability: a method that writes returns only after its change is committed.
/// - Atomicity: each method is one transaction; a multi-row change (a turn's two messages and the chat's
///   `updated_at`, a user's deletion with their chats) is all or nothing.
/// - Order: message ids grow within a chat in the order their inserts committed, so a reader that has seen
///   id `n` finds every later message with `after: n`.
/// - `messages_version`: bumped in the writing transaction by every insert, update and delete of a chat's
///   messages, so an unchanged version means unchanged messages (``messagePage(chatID:ownerID:after:limit:knownVersion:)``).
///
/// As a `Service` it runs until graceful shutdown and then closes; work submitted after that throws.
public protocol ChatStore: Service, Sendable {
    /// The schema versions before and after the migrations this process applied when it opened the store.
    var migration: (from: Int, to: Int) { get }

    /// Checks that the store answers and can take a write (GET /health).
    func ping() async throws

    // MARK: Other processes

    /// The store as the processes sharing it (PostgreSQL replicas) use it together: its change events, the
    /// cancelling of another process's reply, the deployment-wide rate and upstream ledgers. Nil when the store
    /// belongs to this process alone (SQLite): then every reply, rate count and upstream call is this
    /// process's own, and nothing changes the store behind its back.
    var shared: (any SharedStore)? { get }
    /// Closes the store; later calls throw.
    func close() async

    // MARK: Users

    /// Creates a user; throws ``StorageError/emailAlreadyRegistered`` for an email taken in any letter case.
    func createUser(email: String, passwordHash: String, role: UserRole) async throws -> UserRecord
    func user(id: UUID) async throws -> UserRecord?
    /// Case-insensitive.
    func user(email: String) async throws -> UserRecord?
    /// Users recently read by id (``UserCache``), for authenticating requests without a trip to the database.
    /// The engine's ``user(id:)`` fills it; the named changes of the extension in UserChange.swift empty it.
    var userCache: UserCache { get }
    /// Writes one change to a user (``UserChange``) and returns the user as it left them (a deletion: as they
    /// were); nil when there is no such user. Call it through the named methods (``setRole(userID:role:)``, …),
    /// which keep ``userCache`` fresh.
    func apply(_ change: UserChange) async throws -> UserRecord?
    /// Makes the listed (registered) users admins; returns how many changed. Call it as ``promoteAdmins(emails:)``.
    func applyAdminPromotions(emails: [String]) async throws -> Int
    /// Users oldest first, and how many there are; with `emailContaining` (lower-cased, non-empty), only those
    /// whose (lower-cased) email contains it as written, every character literal.
    func users(limit: Int, offset: Int, emailContaining: String?) async throws -> (users: [UserRecord], total: Int)
    func activeAdminCount() async throws -> Int
    func chatIDs(ownerID: UUID) async throws -> [UUID]

    // MARK: Chats

    func createChat(userID: UUID, title: String?) async throws -> ChatRecord
    /// Nil when missing or (with `ownerID`) not that user's.
    func chat(id: UUID, ownerID: UUID?) async throws -> ChatRecord?
    /// The user's chats that are archived (or not): pinned first, then most recently updated first, and how
    /// many such chats they have. Index-backed, whatever the number of chats.
    func chats(ownerID: UUID, archived: Bool, limit: Int, offset: Int) async throws -> ChatPage
    /// Applies `changes` (which must not be empty); nil when missing or not the owner's.
    func updateChat(id: UUID, ownerID: UUID, changes: ChatChanges) async throws -> ChatRecord?
    /// Deletes the chat and its messages; false when missing or not the owner's.
    func deleteChat(id: UUID, ownerID: UUID) async throws -> Bool
    /// Writes the chats for `ownerID` with new ids, each message after the one before it, in one transaction:
    /// all of them or none. Returns them as written, in the order given.
    func importChats(ownerID: UUID, _ chats: [ChatImport]) async throws -> [ChatRecord]
    /// Sets the title only if the chat still has none, and accounts the call that wrote it (`charge`) in the
    /// same transaction; true when the title was set.
    @discardableResult
    func setTitleIfEmpty(chatID: UUID, title: String, charge: UsageCharge?) async throws -> Bool

    // MARK: Messages

    /// Appends a message and bumps the chat's `updated_at`.
    func appendMessage(chatID: UUID, role: MessageRole, content: String) async throws -> MessageRecord
    /// The messages of the chat's active path oldest first after id `after`, at most `limit`; nil when the chat
    /// is missing or not `ownerID`'s.
    func messages(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int) async throws -> [MessageRecord]?
    /// The same page, unless the chat's `messages_version` still equals `knownVersion`.
    func messagePage(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int, knownVersion: Int64?) async throws
        -> MessagePage?
    /// Every message of the chat whatever its branch, oldest first after id `after`, at most `limit`; nil when
    /// the chat is missing or not `ownerID`'s.
    func allMessages(chatID: UUID, ownerID: UUID?, after: Int64, limit: Int) async throws -> [MessageRecord]?
    /// The parent of each of the chat's messages (two integers a message); nil when the chat is missing or not
    /// `ownerID`'s.
    func messageTree(chatID: UUID, ownerID: UUID?) async throws -> MessageTree?
    /// Makes the branch through `messageID` the chat's active path: from the root to that message, then on
    /// through its newest child, that child's newest child and so on to a leaf. Returns the path's ids, root
    /// first; nil when the chat or the message is missing or not `ownerID`'s. Throws ``StorageError/chatBusy``
    /// while a reply of the chat is being generated (by any process).
    func activateBranch(chatID: UUID, ownerID: UUID, messageID: Int64) async throws -> [Int64]?
    /// The raw material of a turn's context, read together: the `complete` messages of the path the turn
    /// continues, from the message it goes under (``TurnContext/parentID``) up to the root, newest first,
    /// within `window`; and the id of the chat's newest message of any status (0 for none). Nil when the chat
    /// is gone or (with `ownerID`) not that user's.
    func turnContext(chatID: UUID, ownerID: UUID?, window: HistoryWindow, placement: TurnPlacement) async throws
        -> TurnContext?
    /// Saves the turn's start in one transaction: the user's message (unless `userContent` is nil: a
    /// regenerated reply answers the message it goes under) and an empty `streaming` reply after it, under
    /// `parentID` (the context's ``TurnContext/parentID``). Nil when the chat (or the message to go under) is
    /// gone. With ``TurnPlacement/branch(from:)`` the chat's active path becomes the branch through `parentID`
    /// first, so the new messages are on it.
    ///
    /// Throws ``StorageError/chatBusy`` while another process is generating a reply in this chat, when a
    /// message newer than `contextThrough` (the ``TurnContext/lastMessageID`` the context was read at) was
    /// saved meanwhile, or (``TurnPlacement/activePath``) when the active path no longer ends at `parentID`:
    /// then the caller reads the context again. So turns of one chat run one after the other across
    /// processes, and each context holds exactly the path its messages continue.
    ///
    /// With a `reservation`, admits the turn against its user's quotas first (``TokenReservation``; throws
    /// ``StorageError/quotaExceeded(_:)``), and holds its tokens on the reply until the reply ends.
    func beginTurn(
        chatID: UUID, placement: TurnPlacement, parentID: Int64?, userContent: String?, model: String,
        contextThrough: Int64, reservation: TokenReservation?
    ) async throws -> (user: MessageRecord, assistant: MessageRecord)?
    /// A new message after the active path, with no tokens to reserve: reads the turn's context and saves its
    /// start as ``turnContext(chatID:ownerID:window:placement:)`` then ``beginTurn(chatID:placement:parentID:userContent:model:contextThrough:reservation:)``
    /// would, the reply's model chosen by `model` from the chat's own. Nil when the chat is gone or (with
    /// `ownerID`) not that user's; throws ``StorageError/chatBusy`` as `beginTurn` does. An engine that can do
    /// both in one step does (PostgreSQL: one statement, so one round trip); the default reads, then begins.
    func beginTurnReadingContext(
        chatID: UUID, ownerID: UUID?, userContent: String, history: HistoryWindow, model: ModelChoice
    ) async throws -> StartedTurn?
    /// Saves the text a `streaming` reply has so far.
    func updateStreamingContent(messageID: Int64, content: String) async throws
    /// Records how a reply ended, and accounts its upstream call (`outcome.charge`, even when the chat was
    /// deleted meanwhile) in the same transaction; nil when its chat was deleted meanwhile.
    @discardableResult
    func finishMessage(id: Int64, outcome: MessageOutcome) async throws -> MessageRecord?
    func message(id: Int64, chatID: UUID, ownerID: UUID?) async throws -> MessageRecord?
    /// Marks replies left `streaming` by a stopped server `failed`; returns how many.
    @discardableResult
    func failInterruptedTurns() async throws -> Int
    /// Removes what imports a stopped server left unpublished (their chats were never visible); returns how
    /// many chats. Run at start.
    @discardableResult
    func removeUnfinishedImports() async throws -> Int
    /// The chat's reply being generated (status `streaming`), by whichever process, if any.
    func streamingReply(chatID: UUID) async throws -> MessageRecord?

    // MARK: Search

    /// The owner's newest `candidates` chats whose title matches, newest first. The index is searched within
    /// the owner's rows only, so the work is bounded by them, not by other users' rows. Throws
    /// ``StorageError/searchTimedOut`` when it runs past `deadline`.
    func searchTitles(ownerID: UUID, query: SearchQuery, candidates: Int, deadline: ContinuousClock.Instant)
        async throws -> [SearchHit]
    /// The owner's newest `candidates` messages that match, newest first, each text cut at
    /// ``searchTextLength`` characters, searched as ``searchTitles(ownerID:query:candidates:deadline:)`` are.
    /// A reply being generated is found once it has ended.
    func searchMessages(ownerID: UUID, query: SearchQuery, candidates: Int, deadline: ContinuousClock.Instant)
        async throws -> [SearchHit]

    // MARK: Usage and quotas

    /// The user's tokens used today and since `today`'s month began, and reserved by their running turns.
    func quotaStanding(userID: UUID, today: UsageDay) async throws -> QuotaStanding
    /// The user's usage per day from `from` through `to`, oldest first; days without calls are left out.
    func usage(userID: UUID, from: UsageDay, to: UsageDay) async throws -> [UsageDayRecord]
    /// Every user's usage from `from` through `to`, heaviest first by `order` (ties by user id), a page of
    /// them, how many users had any, and the deployment's totals.
    func usageByUser(from: UsageDay, to: UsageDay, order: UsageOrder, limit: Int, offset: Int) async throws
        -> (users: [UserUsage], userCount: Int, totals: UsageTotals)
    /// Every user's usage (or only `userID`'s) summed per day from `from` through `to`, oldest first, in one
    /// query; days without calls are left out.
    func usagePerDay(from: UsageDay, to: UsageDay, userID: UUID?) async throws -> [DailyUsage]

    // MARK: API keys

    /// Stores a new key for its user unless they hold `limit` keys already: the count and the insert are one
    /// atomic step, so keys created at once never pass the limit.
    func createAPIKey(_ key: NewAPIKey, limit: Int) async throws -> APIKeyCreation
    /// The user's keys oldest first, each with its usage in the month that begins on `month`.
    func apiKeys(userID: UUID, month: UsageDay) async throws -> [APIKeyListing]
    /// The key whose SHA-256 is `hash` and its user, read now (no cache, so a deleted key or a disabled or
    /// deleted user is refused at once on every process); nil when there is none.
    func apiKeyOwner(hash: String) async throws -> APIKeyOwner?
    /// Deletes a key (only if it is `userID`'s, when given), with its usage; false when there is no such key.
    func deleteAPIKey(id: UUID, userID: UUID?) async throws -> Bool
    /// Sets the key's `last_used_at` to `at` unless it was set after `at` minus
    /// ``APIKeyRecord/lastUsedPrecision`` already (so a key is written at most once a minute, whoever asks).
    func touchAPIKey(id: UUID, at: Timestamp) async throws
    /// Admits one call of the OpenAI-compatible door against its user's quotas and its key's monthly budget
    /// (throws ``StorageError/quotaExceeded(_:)`` or ``StorageError/keyBudgetExceeded``) and holds its tokens
    /// against both until ``settleCall(_:hold:apiKey:)`` (``CallReservation``).
    func reserveCall(_ reservation: CallReservation) async throws -> CallHold
    /// Ends one call of the OpenAI-compatible door in one atomic step: releases its `hold` (when it made one),
    /// and charges `charge` (when it used tokens) to its user's usage for its day (what quotas,
    /// `/auth/me/usage` and `/admin/usage` read, as for a turn's reply) and, with `apiKey`, to that key's usage
    /// for the month `charge.day` is in. Nothing is charged to a user or key deleted meanwhile.
    func settleCall(_ charge: UsageCharge?, hold: CallHold?, apiKey: UUID?) async throws

    // MARK: Settings

    /// Stores `value` under `key` unless a value is there already; returns the stored value.
    func settingInsertingIfAbsent(_ key: String, value: String) async throws -> String
}

/// How many of the newest matching titles and messages a search ranks (``ChatStore/search(ownerID:query:limit:offset:)``).
public let searchCandidates = 100
/// How much of a message a search reads to rank it and cut its snippet, in characters.
public let searchTextLength = 20_000

extension ChatStore {
    /// Users oldest first, and how many there are.
    public func users(limit: Int, offset: Int) async throws -> (users: [UserRecord], total: Int) {
        try await self.users(limit: limit, offset: offset, emailContaining: nil)
    }

    public func messages(chatID: UUID, ownerID: UUID?, limit: Int) async throws -> [MessageRecord]? {
        try await self.messages(chatID: chatID, ownerID: ownerID, after: 0, limit: limit)
    }

    /// GET /chats/search: the owner's chats whose title matches, then their messages that match, each part
    /// ranked by ``SearchQuery/score(of:averageWords:)`` (newer first among equals); a page of the whole.
    ///
    /// Only the newest ``searchCandidates`` matches of each part are ranked, so a word found in every message
    /// costs what a rarer one does; the ranking is the server's, the same on every engine. Throws
    /// ``StorageError/searchTimedOut`` once the two parts together run past `timeLimit`.
    public func search(ownerID: UUID, query: SearchQuery, limit: Int, offset: Int, timeLimit: Duration)
        async throws -> [SearchHit]
    {
        let deadline = ContinuousClock.now + timeLimit
        let titles = try await self.searchTitles(
            ownerID: ownerID, query: query, candidates: searchCandidates, deadline: deadline)
        let messages = try await self.searchMessages(
            ownerID: ownerID, query: query, candidates: searchCandidates, deadline: deadline)
        let ranked = query.rank(titles) + query.rank(messages)
        return Array(ranked.dropFirst(offset).prefix(limit))
    }

    /// The user's chats that are not archived (GET /chats without `archived`).
    public func chats(ownerID: UUID, limit: Int, offset: Int) async throws -> ChatPage {
        try await self.chats(ownerID: ownerID, archived: false, limit: limit, offset: offset)
    }

    /// The context read, then the turn begun; a message saved in between makes `beginTurn` throw
    /// ``StorageError/chatBusy``.
    public func beginTurnReadingContext(
        chatID: UUID, ownerID: UUID?, userContent: String, history: HistoryWindow, model: ModelChoice
    ) async throws -> StartedTurn? {
        guard
            let read = try await self.turnContext(
                chatID: chatID, ownerID: ownerID, window: history, placement: .activePath),
            let saved = try await self.beginTurn(
                chatID: chatID, placement: .activePath, parentID: read.parentID, userContent: userContent,
                model: model.resolved(chatModel: read.model), contextThrough: read.lastMessageID, reservation: nil)
        else { return nil }
        return StartedTurn(
            user: saved.user, assistant: saved.assistant, history: read.history, systemPrompt: read.systemPrompt,
            title: read.title)
    }
}

/// How a turn's model is chosen: the turn's own, else the chat's if it is on offer, else the default.
public struct ModelChoice: Sendable, Equatable {
    /// The turn's own choice (already checked against the offer), if any.
    public let chosen: String?
    /// The models on offer when the turn starts.
    public let offered: [String]
    public let fallback: String

    public init(chosen: String?, offered: [String], fallback: String) {
        self.chosen = chosen
        self.offered = offered
        self.fallback = fallback
    }

    public func resolved(chatModel: String?) -> String {
        self.chosen ?? chatModel.flatMap { self.offered.contains($0) ? $0 : nil } ?? self.fallback
    }
}

/// A turn whose start is saved, with what its context is built from
/// (``ChatStore/beginTurnReadingContext(chatID:ownerID:userContent:history:model:)``).
public struct StartedTurn: Sendable, Equatable {
    /// The user's message and the `streaming` reply after it, as saved.
    public let user: MessageRecord
    public let assistant: MessageRecord
    /// The `complete` messages of the active path before the user's message, newest first.
    public let history: [MessageRecord]
    /// The chat's own system prompt (nil: the deployment's) and title (nil: untitled), read with the history.
    public let systemPrompt: String?
    public let title: String?

    public init(
        user: MessageRecord, assistant: MessageRecord, history: [MessageRecord], systemPrompt: String?,
        title: String?
    ) {
        self.user = user
        self.assistant = assistant
        self.history = history
        self.systemPrompt = systemPrompt
        self.title = title
    }
}

/// How much of a chat's history a turn reads, newest first: at most ``messages`` messages; and an engine that
/// reads row by row in this process (SQLite) stops once the messages read reach ``tokens`` by
/// ``estimatedTokens(_:)`` (the first is always read). A context cut to `tokens` by the same estimate (the
/// system prompt and the new message count against it too) never needs a message past that point, so a long
/// chat costs such a turn what fits its context, not its whole history. PostgreSQL returns up to `messages`:
/// cutting them in SQL (a window sum) cost its server more than the rows it saved (chat-bench, 300-message
/// chats), so the context builder trims them as before.
public struct HistoryWindow: Sendable, Equatable {
    public var messages: Int
    public var tokens: Int

    public init(messages: Int, tokens: Int = .max) {
        self.messages = messages
        self.tokens = tokens
    }

    /// A message's tokens without a tokenizer: ~4 bytes of UTF-8 a token, plus 4 for the message's framing.
    public static func estimatedTokens(_ text: String) -> Int {
        text.utf8.count / 4 + 4
    }
}

/// Where a turn's messages go in the chat's tree.
public enum TurnPlacement: Sendable, Equatable {
    /// After the last message of the active path (POST /chat).
    case activePath
    /// Under this message (nil: as a new first message), beside its existing children; the active path
    /// switches to the new branch (regenerating a reply goes under the message it answered, an edited message
    /// under the one before the original).
    case branch(from: Int64?)
}

/// What a turn's context is built from (``ChatStore/turnContext(chatID:ownerID:window:placement:)``).
public struct TurnContext: Sendable, Equatable {
    /// The `complete` messages of the path from ``parentID`` up to the root, newest first.
    public let history: [MessageRecord]
    /// The chat's newest message of any status when `history` was read; 0 when it had none.
    public let lastMessageID: Int64
    /// The message the turn's messages go under: the last of the active path, or the branch's; nil for none.
    public let parentID: Int64?
    /// The chat's own model and system prompt (nil: the deployment's default), read with the history.
    public let model: String?
    public let systemPrompt: String?
    /// The chat's title when read (nil: untitled, so the turn's first complete reply names the chat).
    public let title: String?

    public init(
        history: [MessageRecord], lastMessageID: Int64, parentID: Int64?, model: String? = nil,
        systemPrompt: String? = nil, title: String? = nil
    ) {
        self.history = history
        self.lastMessageID = lastMessageID
        self.parentID = parentID
        self.model = model
        self.systemPrompt = systemPrompt
        self.title = title
    }
}

/// How a chat's messages hang together: each message's parent (GET /chats/{id}/messages?tree=true, branch
/// switches).
public struct MessageTree: Sendable {
    /// Every message of the chat, oldest first, with its parent (nil for a first message).
    public let links: [(id: Int64, parentID: Int64?)]

    public init(links: [(id: Int64, parentID: Int64?)]) {
        self.links = links
    }

    /// The children of each message (and of nil: the first messages), oldest first.
    public var children: [Int64?: [Int64]] {
        var children: [Int64?: [Int64]] = [:]
        for link in self.links { children[link.parentID, default: []].append(link.id) }
        return children
    }

    /// The path through `messageID` as ``ChatStore/activateBranch(chatID:ownerID:messageID:)`` makes it: its
    /// ancestors, itself, then its newest descendants down to a leaf; root first. Nil when it is not a message
    /// of the chat.
    public func branch(through messageID: Int64) -> [Int64]? {
        let links = self.links
        var parents: [Int64: Int64?] = [:]
        var newestChild: [Int64: Int64] = [:]
        for link in links {
            parents[link.id] = link.parentID
            if let parent = link.parentID { newestChild[parent] = max(newestChild[parent] ?? link.id, link.id) }
        }
        guard parents[messageID] != nil else { return nil }
        var up: [Int64] = []
        var next: Int64? = messageID
        while let id = next, up.count <= links.count {
            up.append(id)
            next = parents[id] ?? nil
        }
        var path = Array(up.reversed())
        var last = messageID
        while let child = newestChild[last], path.count <= links.count {
            path.append(child)
            last = child
        }
        return path
    }
}

/// A change committed to a shared store, delivered to every process using it.
public enum StoreEvent: Sendable, Equatable {
    /// A chat's messages changed (a turn began, a reply's text was saved, a reply ended, the chat was deleted).
    case messagesChanged(chatID: UUID)
    /// A user's sessions may have ended (tokens revoked, disabled, role changed, deleted) or password changed.
    case userChanged(userID: UUID)
    /// Someone asked for the chat's running reply to be cancelled.
    case cancelRequested(chatID: UUID)
    /// Events may have been missed (the listening connection was re-established): re-read what matters.
    case resynchronized
    /// A process got an upstream 429: nothing goes upstream from any process for this long.
    case upstreamPaused(Duration)
}
