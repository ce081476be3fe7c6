import ChatStorage

/// An API key as the API shows it: POST /auth/me/api-keys adds `key` (the only time it is shown), the lists add
/// `usage` (this UTC month's calls and tokens charged to it).
struct APIKeyResponse: JSONResponse {
    let record: APIKeyRecord
    /// The key itself, only in the answer that created it.
    var key: String?
    var usage: APIKeyUsage?

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("id", self.record.id.lowercasedString)
            json.field("user_id", self.record.userID.lowercasedString)
            json.field("name", self.record.name)
            if let key = self.key { json.field("key", key) }
            json.field("prefix", self.record.prefix)
            json.field("created_at", self.record.createdAt)
            json.key("expires_at")
            json.value(self.record.expiresAt?.iso8601)
            json.key("last_used_at")
            json.value(self.record.lastUsedAt?.iso8601)
            json.key("models")
            if let models = self.record.models {
                json.array(models) { json, model in json.value(model) }
            } else {
                json.value(nil as String?)
            }
            json.field("monthly_token_budget", self.record.monthlyTokenBudget)
            if let usage = self.usage {
                json.key("usage")
                json.object { json in
                    json.field("requests", usage.requests)
                    json.field("total_tokens", usage.totalTokens)
                }
            }
        }
    }
}
