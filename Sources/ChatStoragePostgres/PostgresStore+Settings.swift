import ChatStorage
import PostgresNIO

extension PostgresStore {
    public func setting(_ key: String) async throws -> String? {
        try await self.one("SELECT value FROM settings WHERE key = \(key)") { try $0.decode(String.self) }
    }

    /// Replicas racing to store a value (the first start's JWT secret) all get the one that won.
    public func settingInsertingIfAbsent(_ key: String, value: String) async throws -> String {
        try await self.execute(
            "INSERT INTO settings (key, value) VALUES (\(key), \(value)) ON CONFLICT (key) DO NOTHING")
        return try await self.setting(key) ?? value
    }
}
