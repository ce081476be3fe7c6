import Foundation

/// What an engine shared by several `chat-server` processes (PostgreSQL replicas) gives them so that they act as
/// one deployment: each process hears the changes the others commit, can stop a reply another process
/// generates, and counts rate limits and upstream calls in the store, for all of them together. A store owned
/// by one process (SQLite) has none of this to offer: what happens in it, happens in that process
/// (``ChatStore/shared``).
public protocol SharedStore: RateLedger, UpstreamLedger {
    /// Changes committed by any process sharing the store (this one included), as they commit. One consumer;
    /// ends when the store closes.
    var events: AsyncStream<StoreEvent> { get }
    /// Asks whichever process is generating the chat's reply to cancel it (that process saves it `cancelled`).
    func requestCancel(chatID: UUID) async throws
}
