import CMalloc
import Foundation
import ServiceLifecycle

/// Gives the heap's free pages back to the system after a burst, so a process that once served a spike (thousands
/// of connections, a large import) does not stay that large.
///
/// glibc keeps freed memory in its arenas for reuse, so without this the resident size only ever grows to the
/// largest burst seen. Every ``interval`` the service asks the allocator how much it holds free
/// (`mallinfo2().fordblks`); once that has grown by ``threshold`` since the last trim, it calls `malloc_trim(0)`,
/// which releases the free pages of every arena (a few milliseconds, on a thread of its own, never on the
/// cooperative pool). The free chunks stay the allocator's (only their pages go), so their bytes are the level
/// that later frees are counted from; the level follows them down as they are reused. Memory in use is never
/// touched, and a process that frees little is never trimmed.
struct MemoryTrimService: Service {
    var interval: Duration = .seconds(1)
    var threshold = 16 << 20

    /// Checks until graceful shutdown (which ends it normally: a service that throws stops the process with 1).
    func run() async {
        await cancelWhenGracefulShutdown {
            var level = chat_malloc_free_bytes()
            while !Task.isCancelled {
                do { try await Task.sleep(for: self.interval) } catch { return }
                let free = chat_malloc_free_bytes()
                if free < level {
                    level = free
                } else if free - level >= self.threshold {
                    await Self.trim()
                    level = chat_malloc_free_bytes()
                }
            }
        }
    }

    /// Calls `malloc_trim(0)` on a thread of its own, and returns when it is done.
    static func trim() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                _ = chat_malloc_trim()
                done.resume()
            }
        }
    }
}
