/// The suite's one way to wait for something that happens on its own time: polls `condition` every 20 ms until
/// it holds or `timeout` passes, and returns its last value (assert on it with `#expect` or `#require`).
/// `condition` may be synchronous or asynchronous, throwing or not.
func eventually(within timeout: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
