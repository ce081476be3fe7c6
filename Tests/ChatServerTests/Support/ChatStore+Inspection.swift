import ChatStorage
import ChatStoragePostgres
import ChatStorageSQLite
import Foundation

/// What tests read of a store that the application never needs, so it is not part of ``ChatStore``: every
/// engine has these as its own public methods, and the suite adds the conformance.
protocol StoreInspection: Sendable {
    /// Every message with this status, oldest first.
    func messages(status: MessageStatus) async throws -> [MessageRecord]
    /// The stored value of a setting, if any.
    func setting(_ key: String) async throws -> String?
}

extension DatabaseActor: StoreInspection {}
extension PostgresStore: StoreInspection {}

extension ChatStore {
    /// The store as its engine, for what only tests read; every store the suite opens is one of the engines.
    private var inspection: any StoreInspection {
        guard let engine = self as? any StoreInspection else {
            preconditionFailure("\(Self.self) is not an engine the test suite knows")
        }
        return engine
    }

    /// See ``StoreInspection/messages(status:)``.
    func messages(status: MessageStatus) async throws -> [MessageRecord] {
        try await self.inspection.messages(status: status)
    }

    /// See ``StoreInspection/setting(_:)``.
    func setting(_ key: String) async throws -> String? {
        try await self.inspection.setting(key)
    }
}
