import ChatStorage

extension DatabaseActor {
    public func setting(_ key: String) throws -> String? {
        try self.checkOpen()
        return try self.connection.queryOne("SELECT value FROM settings WHERE key = ?", [.text(key)]) { $0.text(0) }
    }

    /// Stores `value` under `key` unless a value is already there, and returns the value that is stored.
    /// Two processes racing get the same answer.
    public func settingInsertingIfAbsent(_ key: String, value: String) throws -> String {
        try self.checkOpen()
        return try self.connection.transaction {
            try self.connection.run(
                "INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)", [.text(key), .text(value)])
            return try self.connection.queryOne("SELECT value FROM settings WHERE key = ?", [.text(key)]) { $0.text(0) }
                ?? value
        }
    }
}
