import ChatStorage

/// What a turn writes before its reply, and where in the chat's tree.
public enum TurnInput: Sendable, Equatable {
    /// A new user message after the last message of the active path (POST /chat).
    case message(String)
    /// Another reply to `parentID`, beside the ones it has (regenerate).
    case regenerate(parentID: Int64)
    /// An edited copy of a user message, beside the original under `parentID` (nil: the chat's first
    /// message), and a reply to it.
    case edit(parentID: Int64?, content: String)

    var placement: TurnPlacement {
        switch self {
        case .message: .activePath
        case .regenerate(let parentID): .branch(from: parentID)
        case .edit(let parentID, _): .branch(from: parentID)
        }
    }

    /// The user message the turn saves; nil when it answers one that is saved already.
    var userContent: String? {
        switch self {
        case .message(let content), .edit(_, let content): content
        case .regenerate: nil
        }
    }
}
