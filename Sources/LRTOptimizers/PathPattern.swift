/// A glob over parameter paths: `*` matches any run of characters (dots included), every
/// other character itself. `*.bias` matches `dense.bias` and `block1.conv.bias`.
public struct PathPattern: Sendable, Equatable, CustomStringConvertible {
    public let pattern: String
    private let characters: [Unicode.Scalar]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern.unicodeScalars)
    }

    public var description: String { pattern }

    /// Whether `path` matches the whole pattern.
    public func matches(_ path: String) -> Bool {
        let text = Array(path.unicodeScalars)
        var textIndex = 0, patternIndex = 0
        var starIndex = -1, resumeIndex = 0
        while textIndex < text.count {
            if patternIndex < characters.count, characters[patternIndex] != "*", characters[patternIndex] == text[textIndex] {
                textIndex += 1
                patternIndex += 1
            } else if patternIndex < characters.count, characters[patternIndex] == "*" {
                starIndex = patternIndex
                resumeIndex = textIndex
                patternIndex += 1
            } else if starIndex >= 0 {
                patternIndex = starIndex + 1
                resumeIndex += 1
                textIndex = resumeIndex
            } else {
                return false
            }
        }
        while patternIndex < characters.count, characters[patternIndex] == "*" { patternIndex += 1 }
        return patternIndex == characters.count
    }

    /// Whether any of `patterns` matches `path`.
    static func any(_ patterns: [PathPattern], match path: String) -> Bool {
        patterns.contains { $0.matches(path) }
    }

    /// Biases and BatchNormalization's scale and offset, which LARS and LAMB leave alone by default.
    public static let biasesAndNormalization = ["*.bias", "*.gamma", "*.beta"]
}
