import ChatAuth
import ChatStorage
import Hummingbird
import Logging

/// Registration, login (JSON and OAuth2 form), logout and the current user.
struct AuthController {
    let backend: ChatBackend
    /// At most one "registrations limited" line a minute per client address (and one for the deployment's
    /// ceiling): a flood of refused registrations must not become a flood of log lines.
    let refusalLogs = RateLimiter(perMinute: 1)

    func addRoutes(to group: RouterGroup<AppRequestContext>, authenticated: RouterGroup<AppRequestContext>) {
        group.post("register", use: self.register)
        group.post("login", use: self.login)
        group.post("token", use: self.token)
        authenticated.post("logout", use: self.logout)
        authenticated.get("me", use: self.me)
    }

    struct RegisterRequest: ValidatedRequest {
        let email: String
        let password: String

        func validationIssues() -> [ValidationIssue] {
            var issues: [ValidationIssue] = []
            if let problem = EmailAddress.problem(with: self.email.trimmingWhitespace()) {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "email"],
                        msg: "value is not a valid email address: \(problem)",
                        type: "value_error"
                    )
                )
            }
            if let issue = ValidationIssue.length(of: self.password, in: 8...128, at: ["body", "password"]) {
                issues.append(issue)
            }
            return issues
        }
    }

    struct LoginRequest: ValidatedRequest {
        let email: String
        let password: String

        func validationIssues() -> [ValidationIssue] {
            // Over-long input is refused before it reaches scrypt.
            [
                AuthController.loginEmailIssue(self.email, at: ["body", "email"]),
                ValidationIssue.length(of: self.password, in: 1...128, at: ["body", "password"]),
            ].compactMap { $0 }
        }
    }

    /// OAuth2 password flow form (`username` is the email).
    struct TokenForm: ValidatedRequest {
        let username: String
        let password: String
        let grantType: String?

        enum CodingKeys: String, CodingKey {
            case username, password
            case grantType = "grant_type"
        }

        func validationIssues() -> [ValidationIssue] {
            var issues = [
                AuthController.loginEmailIssue(self.username, at: ["body", "username"]),
                ValidationIssue.length(of: self.password, in: 1...128, at: ["body", "password"]),
            ].compactMap { $0 }
            if let grantType, grantType != "password" {
                issues.append(
                    ValidationIssue(
                        loc: ["body", "grant_type"],
                        msg: "String should match pattern '^password$'",
                        type: "string_pattern_mismatch"
                    )
                )
            }
            return issues
        }
    }

    /// The email of a login: any length an address may have, and none of the characters that registration
    /// refuses in every address (spaces, invisible and control characters, NUL among them), which no account
    /// can hold; other syntax is left to the lookup (401), as the reference does.
    static func loginEmailIssue(_ email: String, at loc: [ValidationIssue.Location]) -> ValidationIssue? {
        if let issue = ValidationIssue.length(of: email, in: 1...EmailAddress.maximumLength, at: loc) { return issue }
        guard let problem = EmailAddress.characterProblem(in: email.trimmingWhitespace()) else { return nil }
        return ValidationIssue(loc: loc, msg: "value is not a valid email address: \(problem)", type: "value_error")
    }

    @Sendable func register(_ request: Request, context: AppRequestContext) async throws -> EditedResponse<UserResponse>
    {
        let body = try await request.decodeJSON(as: RegisterRequest.self, context: context)
        // Each registration costs a scrypt hash: limited per client address, then for the whole deployment,
        // before any is computed. The address comes first, so an address over its own limit spends none of the
        // deployment's.
        let client = self.client(request, context)
        if let wait = try await self.backend.registrationRate.acquireForDeployment(["address:" + client]) {
            if self.refusalLogs.acquire(["address:" + client]) == nil {
                context.logger.notice("registrations limited", metadata: ["client": "\(client)"])
            }
            throw APIError.tooManyRequests("Too many registrations; try again later", retryAfter: wait)
        }
        if let wait = try await self.backend.registrationTotal.acquireForDeployment(["deployment"]) {
            if self.refusalLogs.acquire(["deployment"]) == nil {
                context.logger.notice("registrations limited for every client", metadata: ["client": "\(client)"])
            }
            throw APIError.tooManyRequests(
                "Too many registrations on this service right now; try again later", retryAfter: wait)
        }
        let email = EmailAddress.normalize(body.email)
        let hash = try await Self.hashing { try await self.backend.passwords.hash(body.password, for: .signUp) }
        let role: UserRole = self.backend.config.adminEmails.contains(email) ? .admin : .user
        do {
            let user = try await self.backend.database.createUser(email: email, passwordHash: hash, role: role)
            context.logger.info("user registered", metadata: ["user_id": "\(user.id.lowercasedString)"])
            return EditedResponse(status: .created, response: UserResponse(user))
        } catch StorageError.emailAlreadyRegistered {
            throw APIError.conflict("Email already registered")
        }
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> TokenResponse {
        let body = try await request.decodeJSON(as: LoginRequest.self, context: context)
        return try await self.authenticate(
            email: body.email, password: body.password, client: self.client(request, context), context: context)
    }

    @Sendable func token(_ request: Request, context: AppRequestContext) async throws -> TokenResponse {
        let form = try await request.decodeForm(as: TokenForm.self, context: context)
        return try await self.authenticate(
            email: form.username, password: form.password, client: self.client(request, context), context: context)
    }

    private func client(_ request: Request, _ context: AppRequestContext) -> String {
        context.clientAddress(of: request, trustedProxies: self.backend.config.forwardedAllowIPs)
    }

    /// Unknown email and wrong password take the same time and give the same answer. Failed attempts are
    /// limited per (email, client address) and per client address before any scrypt work is done (see
    /// ``LoginThrottle``); a correct password from an address within its limits always gets through.
    private func authenticate(
        email rawEmail: String, password: String, client: String, context: AppRequestContext
    ) async throws -> TokenResponse {
        let email = EmailAddress.normalize(rawEmail)
        let throttle = self.backend.loginFailures
        if let wait = try await throttle.wait(email: email, address: client) {
            context.logger.notice("login attempts limited", metadata: ["client": "\(client)"])
            throw APIError.tooManyRequests("Too many failed logins; try again later", retryAfter: wait)
        }
        let passwords = self.backend.passwords
        let database = self.backend.database
        // An attempt turned away by a full hashing queue counts as a failure too: otherwise a flood of guesses
        // that keeps the queue full is never counted, and is never limited, while everyone else gets 503.
        let turnedAway = { try await throttle.recordFailure(email: email, address: client) }
        guard let user = try await database.user(email: email) else {
            try await Self.hashing(ifBusy: turnedAway) { try await passwords.burnVerification(password) }
            try await throttle.recordFailure(email: email, address: client)
            throw APIError.unauthorized("Invalid email or password")
        }
        let verified = try await Self.hashing(ifBusy: turnedAway) {
            try await passwords.verify(password, against: user.passwordHash)
        }
        guard verified else {
            try await throttle.recordFailure(email: email, address: client)
            throw APIError.unauthorized("Invalid email or password")
        }
        // Told only to someone who knows the password.
        guard !user.disabled else { throw APIError.forbidden("This account is disabled") }
        if passwords.needsRehash(user.passwordHash) {
            // The cost was raised since this hash was made: store a stronger one now that we know the password.
            if let upgraded = try? await passwords.hash(password, for: .signIn) {
                try await database.updatePasswordHash(userID: user.id, passwordHash: upgraded)
            }
        }
        return TokenResponse(
            accessToken: try self.backend.tokens.issue(for: user),
            expiresIn: Int(self.backend.tokens.lifetimeSeconds)
        )
    }

    /// Runs password hashing; a full hashing queue is 503 with `Retry-After`, at once, after `ifBusy`.
    private static func hashing<T>(ifBusy: () async throws -> Void = {}, _ body: () async throws -> T) async throws
        -> T
    {
        do {
            return try await body()
        } catch is PasswordHashingBusy {
            try await ifBusy()
            throw APIError(
                .serviceUnavailable, "Too many sign-ins at once; try again in a moment", headers: [.retryAfter: "1"])
        }
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> MessageOnlyResponse {
        let user = try context.requireUser()
        try await self.backend.database.revokeTokens(userID: user.id)
        try await self.backend.endWaits(of: user.id, .sessionEnded, stopTurns: false)
        return MessageOnlyResponse(message: "Successfully logged out")
    }

    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> UserResponse {
        UserResponse(try context.requireUser())
    }
}
