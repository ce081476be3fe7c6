import ChatTurns
import Hummingbird

/// GET /models: the models a user may pick for a chat or a turn, and the default.
struct ModelsController {
    let backend: ChatBackend

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("models", use: self.list)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) throws -> ModelListResponse {
        _ = try context.requireUser()
        let catalog = self.backend.models
        return ModelListResponse(default: catalog.defaultModel, checked: catalog.isChecked, models: catalog.entries)
    }
}

/// The body of GET /models. `checked`: the list was checked against the upstream's.
struct ModelListResponse: JSONResponse {
    let `default`: String
    let checked: Bool
    let models: [ModelCatalog.Entry]

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("default", self.default)
            json.field("checked", self.checked)
            json.key("models")
            json.array(self.models) { json, model in
                json.object { json in
                    json.field("id", model.id)
                    json.field("owned_by", model.ownedBy)
                    json.field("context_window", model.contextWindow)
                    json.field("default", model.id == self.default)
                }
            }
        }
    }
}
