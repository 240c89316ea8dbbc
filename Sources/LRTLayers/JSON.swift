/// A JSON value that keeps object keys in order, so configs are written back as read.
///
/// Parsing is bounded (nesting depth, input size) because configs come from
/// untrusted files; errors name the byte offset.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    public static func == (left: JSONValue, right: JSONValue) -> Bool {
        switch (left, right) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The member `key` of an object, or nil.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }

    /// The keys of an object, in order (empty for other values).
    public var keys: [String] {
        guard case .object(let members) = self else { return [] }
        return members.map(\.key)
    }

    public var stringValue: String? { if case .string(let text) = self { return text } else { return nil } }
    public var numberValue: Double? { if case .number(let number) = self { return number } else { return nil } }
    public var boolValue: Bool? { if case .bool(let flag) = self { return flag } else { return nil } }
    public var arrayValue: [JSONValue]? { if case .array(let items) = self { return items } else { return nil } }
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// An integer, when this is a number with no fractional part within Int's range.
    public var intValue: Int? {
        guard let number = numberValue, number.rounded() == number, abs(number) < 9.0e15 else { return nil }
        return Int(number)
    }

    /// Compact JSON text (`", "` and `": "` separators, as Python's `json.dumps`).
    public var serialized: String {
        var text = ""
        write(to: &text)
        return text
    }

    /// JSON text laid out for reading and editing: arrays and objects nested less than `expandedDepth` deep
    /// have one item per line, indented by two spaces per level; deeper ones are written compactly on
    /// their line (so `expandedDepth: 3` puts each layer of a Keras model config on a line of its own).
    public func formatted(expandedDepth: Int) -> String {
        var text = ""
        writeFormatted(to: &text, depth: 0, expandedDepth: expandedDepth)
        return text
    }

    private func writeFormatted(to text: inout String, depth: Int, expandedDepth: Int) {
        let items: [(key: String?, value: JSONValue)]
        let (open, close): (String, String)
        switch self {
        case .array(let values) where depth < expandedDepth && !values.isEmpty:
            items = values.map { (nil, $0) }
            (open, close) = ("[", "]")
        case .object(let members) where depth < expandedDepth && !members.isEmpty:
            items = members.map { ($0.key, $0.value) }
            (open, close) = ("{", "}")
        default:
            write(to: &text)
            return
        }
        let indentation = String(repeating: "  ", count: depth + 1)
        text += open + "\n"
        for (index, item) in items.enumerated() {
            text += indentation
            if let key = item.key {
                JSONValue.writeString(key, to: &text)
                text += ": "
            }
            item.value.writeFormatted(to: &text, depth: depth + 1, expandedDepth: expandedDepth)
            text += index + 1 < items.count ? ",\n" : "\n"
        }
        text += String(repeating: "  ", count: depth) + close
    }

    private func write(to text: inout String) {
        switch self {
        case .null: text += "null"
        case .bool(let flag): text += flag ? "true" : "false"
        case .number(let number):
            if number.rounded() == number, abs(number) < 1e15 { text += String(Int64(number)) }
            else if number.isFinite { text += "\(number)" }
            else { text += "null" }
        case .string(let string): JSONValue.writeString(string, to: &text)
        case .array(let items):
            text += "["
            for (index, item) in items.enumerated() {
                if index > 0 { text += ", " }
                item.write(to: &text)
            }
            text += "]"
        case .object(let members):
            text += "{"
            for (index, member) in members.enumerated() {
                if index > 0 { text += ", " }
                JSONValue.writeString(member.key, to: &text)
                text += ": "
                member.value.write(to: &text)
            }
            text += "}"
        }
    }

    private static func writeString(_ string: String, to text: inout String) {
        text += "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }

    /// Parses JSON text.
    ///
    /// - Parameters:
    ///   - text: the document.
    ///   - maximumDepth: the deepest nesting accepted (default 64).
    /// - Throws: ``JSONError`` naming the offset of the first problem.
    public static func parse(_ text: String, maximumDepth: Int = 64) throws -> JSONValue {
        var parser = JSONParser(bytes: Array(text.utf8), maximumDepth: maximumDepth)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.offset == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }
}

/// A JSON syntax error at a byte offset.
public struct JSONError: Error, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

private struct JSONParser {
    let bytes: [UInt8]
    let maximumDepth: Int
    var offset = 0

    init(bytes: [UInt8], maximumDepth: Int) {
        self.bytes = bytes
        self.maximumDepth = maximumDepth
    }

    func error(_ reason: String) -> JSONError { JSONError(offset: offset, reason: reason) }

    mutating func skipWhitespace() {
        while offset < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[offset]) { offset += 1 }
    }

    mutating func expect(_ literal: String) throws {
        let literalBytes = Array(literal.utf8)
        guard offset + literalBytes.count <= bytes.count,
              Array(bytes[offset..<offset + literalBytes.count]) == literalBytes
        else { throw error("expected \(literal)") }
        offset += literalBytes.count
    }

    mutating func parseValue(depth: Int) throws -> JSONValue {
        guard depth <= maximumDepth else { throw error("nested deeper than \(maximumDepth) levels") }
        guard offset < bytes.count else { throw error("unexpected end of input") }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            offset += 1
            var members: [(key: String, value: JSONValue)] = []
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try parseString()
                skipWhitespace()
                try expect(":")
                skipWhitespace()
                members.append((key, try parseValue(depth: depth + 1)))
                skipWhitespace()
                guard offset < bytes.count else { throw error("unterminated object") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                if bytes[offset] == UInt8(ascii: "}") { offset += 1; return .object(members) }
                throw error("expected , or }")
            }
        case UInt8(ascii: "["):
            offset += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try parseValue(depth: depth + 1))
                skipWhitespace()
                guard offset < bytes.count else { throw error("unterminated array") }
                if bytes[offset] == UInt8(ascii: ",") { offset += 1; continue }
                if bytes[offset] == UInt8(ascii: "]") { offset += 1; return .array(items) }
                throw error("expected , or ]")
            }
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        case UInt8(ascii: "N"): try expect("NaN"); return .number(.nan)
        default: return .number(try parseNumber())
        }
    }

    mutating func parseNumber() throws -> Double {
        let start = offset
        while offset < bytes.count, "+-0123456789.eE".utf8.contains(bytes[offset]) { offset += 1 }
        guard offset > start, let text = String(bytes: bytes[start..<offset], encoding: .utf8),
              let number = Double(text)
        else { offset = start; throw error("expected a value") }
        return number
    }

    mutating func parseString() throws -> String {
        offset += 1  // opening quote
        var scalars = String.UnicodeScalarView()
        var run: [UInt8] = []
        func flush() throws {
            guard !run.isEmpty else { return }
            guard let text = String(bytes: run, encoding: .utf8) else { throw error("invalid UTF-8 in string") }
            scalars.append(contentsOf: text.unicodeScalars)
            run.removeAll(keepingCapacity: true)
        }
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                offset += 1
                try flush()
                return String(scalars)
            }
            if byte == UInt8(ascii: "\\") {
                try flush()
                offset += 1
                guard offset < bytes.count else { break }
                let escape = bytes[offset]
                offset += 1
                switch escape {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if (0xD800..<0xDC00).contains(code), offset + 1 < bytes.count,
                       bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") {
                        offset += 2
                        let low = try parseHex4()
                        code = 0x10000 + ((code - 0xD800) << 10) + (low &- 0xDC00)
                    }
                    guard let scalar = Unicode.Scalar(code) else { throw error("invalid \\u escape") }
                    scalars.append(scalar)
                default: throw error("invalid escape")
                }
                continue
            }
            guard byte >= 0x20 else { throw error("control character in string") }
            run.append(byte)
            offset += 1
        }
        throw error("unterminated string")
    }

    mutating func parseHex4() throws -> UInt32 {
        guard offset + 4 <= bytes.count,
              let text = String(bytes: bytes[offset..<offset + 4], encoding: .utf8),
              let code = UInt32(text, radix: 16)
        else { throw error("invalid \\u escape") }
        offset += 4
        return code
    }
}
