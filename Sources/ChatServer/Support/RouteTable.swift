import HTTPTypes
import Hummingbird
import Synchronization

/// The router's routes as (path pattern, method) pairs, so that a request the router could not place can be
/// answered 405 with `Allow` when its path exists under other methods, and 404 only when it does not.
///
/// Filled once by ``buildRouter(_:)`` after every route is added; read only on the error path, under a lock.
final class RouteTable: Sendable {
    private struct Route {
        /// Path segments; nil stands for a parameter (`:chat_id`), which matches any one segment.
        let segments: [Substring?]
        let method: HTTPRequest.Method
    }

    private let routes = Mutex<[Route]>([])

    /// Replaces the table with the router's routes.
    func install(from router: Router<AppRequestContext>) {
        let routes = router.routes.map { description in
            Route(
                segments: description.path.description.split(separator: "/").map { segment in
                    segment.hasPrefix(":") || segment.hasPrefix("{") || segment == "*" ? nil : segment
                },
                method: description.method
            )
        }
        self.routes.withLock { $0 = routes }
    }

    /// The methods routed for `path`, in a stable order; empty when no route has this path.
    func allowedMethods(for path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        let methods = self.routes.withLock { routes in
            routes.filter { route in
                route.segments.count == segments.count
                    && zip(route.segments, segments).allSatisfy { pattern, segment in
                        pattern.map { $0 == segment } ?? true
                    }
            }
            .map(\.method)
        }
        let order: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]
        return order.filter(methods.contains) + methods.filter { !order.contains($0) }
    }
}
