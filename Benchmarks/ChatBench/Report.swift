import ChatStorage
import Foundation
import Histogram
import NIOHTTP1

/// The human-readable table.
enum Report {
    static func table(_ results: [ScenarioResult], rssSource: String) -> String {
        let header = [
            "scenario", "clients", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "peak RSS MB",
            "CPU ms/req",
        ]
        var rows = [header]
        for result in results {
            let errors =
                result.errors.isEmpty
                ? "0" : result.errors.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ")
            rows.append([
                result.name, String(result.concurrency), String(result.requests), format(result.requestsPerSecond, 0),
                format(result.p50Milliseconds, 1), format(result.p90Milliseconds, 1), format(result.p99Milliseconds, 1),
                format(result.maxMilliseconds, 1), errors, format(result.peakRSSMegabytes, 1),
                result.cpuMillisecondsPerRequest.map { format($0, 3) } ?? "-",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { column, cell in
                column == 0
                    ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        lines.insert(String(repeating: "-", count: lines[0].count), at: 1)
        for result in results where result.note != nil {
            lines.append("\(result.name): \(result.note ?? "")")
        }
        lines.append("RSS and CPU: \(rssSource), except startup.")
        for result in results {
            if let cpu = result.cpu { lines.append(cpu.summary(of: result.name)) }
        }
        return lines.joined(separator: "\n")
    }

    private static func format(_ value: Double, _ decimals: Int) -> String {
        var text = String(Int((value * pow10(decimals)).rounded()))
        guard decimals > 0 else { return text }
        while text.count <= decimals { text = "0" + text }
        text.insert(".", at: text.index(text.endIndex, offsetBy: -decimals))
        return text
    }

    private static func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { value, _ in value * 10 } }
}
