import ChatStorage
import ChatTurns
import Hummingbird

/// GET /v1/models in OpenAI's shape: the models on offer that the key (or, with a JWT, the user) may use.
struct OpenAIModelsController {
    let backend: ChatBackend

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("models", use: self.list)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) throws -> OpenAIModelList {
        _ = try context.requireUser()
        let offered = self.backend.models.entries
        guard let allowed = context.apiKey?.models else { return OpenAIModelList(models: offered) }
        return OpenAIModelList(models: offered.filter { allowed.contains($0.id) })
    }
}

/// `{"object": "list", "data": [{id, object: "model", created, owned_by}]}`. `created` is 0: the upstream does
/// not say when its models were made.
struct OpenAIModelList: JSONResponse {
    let models: [ModelCatalog.Entry]

    func write(to writer: inout JSONWriter) {
        writer.object { json in
            json.field("object", "list")
            json.key("data")
            json.array(self.models) { json, model in
                json.object { json in
                    json.field("id", model.id)
                    json.field("object", "model")
                    json.field("created", 0)
                    json.field("owned_by", model.ownedBy ?? "system")
                }
            }
        }
    }
}
