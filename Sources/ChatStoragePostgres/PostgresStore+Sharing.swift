import ChatStorage

/// Replicas on one database act as one deployment through it: ``events`` (LISTEN/NOTIFY),
/// ``requestCancel(chatID:)``, and the rate and upstream ledgers in its tables (PostgresStore+Replicas.swift).
extension PostgresStore: SharedStore {
    public var shared: (any SharedStore)? { self }
}
