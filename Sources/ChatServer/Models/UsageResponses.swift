import ChatStorage
import Foundation

/// Calls and tokens over some days: `requests`, `prompt_tokens`, `completion_tokens`, `total_tokens`, and
/// `estimated_requests` (calls whose counts are estimates: streams cut off before the upstream reported).
struct UsageTotalsResponse: JSONWritable {
    let totals: UsageTotals

    func write(to writer: inout JSONWriter) {
        writer.object { json in self.fields(into: &json) }
    }

    func fields(into json: inout JSONWriter) {
        json.field("requests", self.totals.requests)
        json.field("prompt_tokens", self.totals.promptTokens)
        json.field("completion_tokens", self.totals.completionTokens)
        json.field("total_tokens", self.totals.totalTokens)
        json.field("estimated_requests", self.totals.estimatedRequests)
    }
}

/// One quota as its user stands against it: `limit` (null: unlimited), `used` in the current period,
/// `reserved` by running replies, `remaining` (null when unlimited) and when the period `resets_at`.
struct QuotaResponse: JSONWritable {
    let limit: Int64?
    let used: Int64
    let reserved: Int64
    let resetsAt: UsageDay

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("limit", self.limit)
            json.field("used", self.used)
            json.field("reserved", self.reserved)
            json.field("remaining", self.limit.map { max(0, $0 - self.used - self.reserved) })
            json.field("resets_at", self.resetsAt.startISO8601)
        }
    }
}

/// GET /auth/me/usage.
struct MyUsageResponse: JSONResponse {
    let from: UsageDay
    let to: UsageDay
    let days: [UsageDayRecord]
    let daily: QuotaResponse
    let monthly: QuotaResponse

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("from", self.from.iso)
            json.field("to", self.to.iso)
            json.key("days")
            json.array(self.days) { json, day in
                json.object { json in
                    json.field("date", day.day.iso)
                    UsageTotalsResponse(totals: day.totals).fields(into: &json)
                }
            }
            json.field("totals", UsageTotalsResponse(totals: self.days.reduce(UsageTotals()) { $0 + $1.totals }))
            json.key("quotas")
            json.object { json in
                json.field("daily", self.daily)
                json.field("monthly", self.monthly)
            }
        }
    }
}

/// GET /admin/usage.
struct AdminUsageResponse: JSONResponse {
    let from: UsageDay
    let to: UsageDay
    let users: [UserUsage]
    let userCount: Int
    let totals: UsageTotals

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("from", self.from.iso)
            json.field("to", self.to.iso)
            json.key("users")
            json.array(self.users) { json, user in
                json.object { json in
                    json.field("user_id", user.userID.lowercasedString)
                    json.field("email", user.email)
                    UsageTotalsResponse(totals: user.totals).fields(into: &json)
                }
            }
            json.field("total_users", self.userCount)
            json.field("totals", UsageTotalsResponse(totals: self.totals))
        }
    }
}

/// GET /admin/usage/daily: every day of the range in order, the days without calls as zeros, and their totals.
struct AdminDailyUsageResponse: JSONResponse {
    let from: UsageDay
    let to: UsageDay
    let userID: UUID?
    /// The days with calls, oldest first (as the store answers them).
    let days: [DailyUsage]

    func write(to writer: inout JSONWriter) {
        var used = self.days.makeIterator()
        var next = used.next()
        writer.object { json in
            json.field("from", self.from.iso)
            json.field("to", self.to.iso)
            json.field("user_id", self.userID?.lowercasedString)
            json.key("days")
            json.array(self.from.number...self.to.number) { json, number in
                var totals = UsageTotals()
                if let day = next, day.day.number == number {
                    totals = day.totals
                    next = used.next()
                }
                json.object { json in
                    json.field("date", UsageDay(number: number).iso)
                    UsageTotalsResponse(totals: totals).fields(into: &json)
                }
            }
            json.field("totals", UsageTotalsResponse(totals: self.days.reduce(UsageTotals()) { $0 + $1.totals }))
        }
    }
}
