import ChatTurns

extension ModelCatalog {
    /// 422 naming the offered models, unless `model` is one.
    func requireOffered(_ model: String, at loc: [ValidationIssue.Location]) throws(APIError) {
        guard !self.offers(model) else { return }
        let offered = self.entries.map(\.id).joined(separator: ", ")
        throw .validation(
            ValidationIssue(
                loc: loc, msg: "Model \"\(model)\" is not offered here; choose one of: \(offered) (GET /models)",
                type: "value_error"))
    }
}
