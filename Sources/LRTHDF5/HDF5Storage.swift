import CHDF5
import Foundation

/// Limits applied to everything read from a file, which is never trusted.
enum HDF5Limits {
    /// Highest accepted rank of a dataset or attribute.
    static let maximumRank = 8
    /// Most elements accepted in one dataset or attribute (2^31).
    static let maximumElements = 1 << 31
    /// Most bytes accepted for the strings of one attribute (64 MiB).
    static let maximumStringBytes = 64 << 20
}

/// The stored element type of a numeric dataset, for readers that accept only some types
/// (lrt's weights: little-endian float32, with float16 and float64 converted).
public struct HDF5NumberType: Equatable, Sendable, CustomStringConvertible {
    /// The family of the type.
    public enum Kind: Sendable, Equatable {
        case float, signedInteger, unsignedInteger
        /// Strings, compounds and every other non-numeric type.
        case other
    }

    /// The family of the type.
    public let kind: Kind
    /// Bits per element (32 for float32).
    public let bits: Int
    /// Whether the bytes are stored most significant first.
    public let isBigEndian: Bool

    /// Creates a type description.
    public init(kind: Kind, bits: Int, isBigEndian: Bool) {
        self.kind = kind
        self.bits = bits
        self.isBigEndian = isBigEndian
    }

    /// `float32`, `float64`, `int64`, `uint8`, with `big-endian ` in front when so.
    public var description: String {
        let name: String
        switch kind {
        case .float: name = "float\(bits)"
        case .signedInteger: name = "int\(bits)"
        case .unsignedInteger: name = "uint\(bits)"
        case .other: name = "a non-numeric type"
        }
        return (isBigEndian && kind != .other ? "big-endian " : "") + name
    }
}

/// The dataspace and datatype of one stored dataset or attribute, and how to read it.
/// Lets datasets and attributes share the reading code.
struct StoredData {
    let space: hid_t
    let type: hid_t
    /// Reads every element, converted to the given memory type, into the buffer.
    let read: (_ memoryType: hid_t, _ buffer: UnsafeMutableRawPointer) -> herr_t
    let location: HDF5Location

    var typeClass: H5T_class_t { H5Tget_class(type) }

    /// The shape: `[]` for a scalar. Refuses null dataspaces, ranks above 8 and more than
    /// 2^31 elements.
    func shape() throws -> [Int] {
        switch H5Sget_simple_extent_type(space) {
        case H5S_SCALAR: return []
        case H5S_SIMPLE: break
        case H5S_NULL: throw location.error(.invalidContent, "has a null dataspace (no elements, no shape)")
        default: throw location.libraryError("cannot read the dataspace")
        }
        let rank = Int(try location.check(H5Sget_simple_extent_ndims(space), "cannot read the rank"))
        guard rank <= HDF5Limits.maximumRank else {
            throw location.error(.invalidContent, "rank \(rank) exceeds the limit of \(HDF5Limits.maximumRank)")
        }
        var dimensions = [hsize_t](repeating: 0, count: rank)
        try location.check(H5Sget_simple_extent_dims(space, &dimensions, nil), "cannot read the dimensions")
        let limit = hsize_t(HDF5Limits.maximumElements)
        let count = dimensions.reduce(hsize_t(1)) { product, dimension in
            let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
            return overflow ? .max : next
        }
        guard count <= limit, dimensions.allSatisfy({ $0 <= limit }) else {
            throw location.error(.invalidContent, "shape \(dimensions) exceeds the limit of 2^31 elements")
        }
        return dimensions.map { Int($0) }
    }

    /// The stored type as an ``HDF5NumberType``.
    var numberType: HDF5NumberType {
        let bits = H5Tget_size(type) * 8
        let bigEndian = H5Tget_order(type) == H5T_ORDER_BE
        switch typeClass {
        case H5T_FLOAT: return HDF5NumberType(kind: .float, bits: bits, isBigEndian: bigEndian)
        case H5T_INTEGER:
            return HDF5NumberType(kind: H5Tget_sign(type) == H5T_SGN_NONE ? .unsignedInteger : .signedInteger, bits: bits,
                                  isBigEndian: bigEndian)
        default: return HDF5NumberType(kind: .other, bits: bits, isBigEndian: false)
        }
    }

    /// The stored type in words, for error messages ("variable-length string", "compound").
    var typeDescription: String {
        let bits = H5Tget_size(type) * 8
        switch typeClass {
        case H5T_INTEGER: return "\(bits)-bit \(H5Tget_sign(type) == H5T_SGN_NONE ? "unsigned " : "")integer"
        case H5T_FLOAT: return "\(bits)-bit float"
        case H5T_STRING:
            return H5Tis_variable_str(type) > 0 ? "variable-length string" : "fixed-length string of \(bits / 8) bytes"
        case H5T_COMPOUND: return "compound"
        case H5T_ENUM: return "enum"
        case H5T_ARRAY: return "array"
        case H5T_VLEN: return "variable-length sequence"
        case H5T_OPAQUE: return "opaque"
        case H5T_BITFIELD: return "bitfield"
        case H5T_REFERENCE: return "reference"
        case H5T_TIME: return "time"
        default: return "unknown type"
        }
    }

    /// Reads all elements as numbers, converted by HDF5 from the stored type (which must be
    /// of one of `classes`) to `memoryType`.
    func numbers<Number: Numeric>(as memoryType: hid_t, accepting classes: [H5T_class_t], expected: String) throws
        -> (values: [Number], shape: [Int])
    {
        guard classes.contains(typeClass) else {
            throw location.error(.wrongType, "stored type is \(typeDescription), expected \(expected)")
        }
        let shape = try shape()
        var values = [Number](repeating: .zero, count: shape.reduce(1, *))
        if !values.isEmpty {
            _ = try values.withUnsafeMutableBytes { buffer in
                try location.check(read(memoryType, buffer.baseAddress!), "cannot read \(typeDescription) values")
            }
        }
        return (values, shape)
    }

    /// Reads all elements of a string type, variable- or fixed-length, ASCII or UTF-8.
    /// Refuses invalid UTF-8 and more than 64 MiB of text.
    func strings() throws -> [String] {
        guard typeClass == H5T_STRING else {
            throw location.error(.wrongType, "stored type is \(typeDescription), expected a string")
        }
        let count = try shape().reduce(1, *)
        let isVariableLength = try location.check(H5Tis_variable_str(type), "cannot inspect the string type") > 0
        let elementSize = H5Tget_size(type)
        // A memory type matching the stored one, so HDF5 converts nothing.
        let memoryType = try location.check(H5Tcopy(lrt_H5T_C_S1()), "cannot create a string type")
        defer { H5Tclose(memoryType) }
        try location.check(
            H5Tset_size(memoryType, isVariableLength ? lrt_H5T_VARIABLE() : elementSize), "cannot size the string type")
        try location.check(H5Tset_cset(memoryType, H5Tget_cset(type)), "cannot set the character set")
        try location.check(H5Tset_strpad(memoryType, H5Tget_strpad(type)), "cannot set the string padding")
        guard count > 0 else { return [] }

        if isVariableLength {
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            defer { H5Dvlen_reclaim(memoryType, space, lrt_H5P_DEFAULT(), &pointers) }
            try location.check(read(memoryType, &pointers), "cannot read variable-length strings")
            let lengths = pointers.map { $0.map { strlen($0) } ?? 0 }
            guard lengths.reduce(0, +) <= HDF5Limits.maximumStringBytes else {
                throw location.error(.invalidContent, "strings exceed the limit of \(HDF5Limits.maximumStringBytes) bytes")
            }
            return try zip(pointers, lengths).map { pointer, length in
                guard let pointer else { return "" }
                return try decodeUTF8(UnsafeRawBufferPointer(start: pointer, count: length))
            }
        }

        guard elementSize > 0, elementSize <= HDF5Limits.maximumStringBytes / count else {
            throw location.error(
                .invalidContent,
                "\(count) strings of \(elementSize) bytes exceed the limit of \(HDF5Limits.maximumStringBytes) bytes")
        }
        var bytes = [UInt8](repeating: 0, count: count * elementSize)
        try location.check(read(memoryType, &bytes), "cannot read fixed-length strings")
        let spacePadded = H5Tget_strpad(type) == H5T_STR_SPACEPAD
        return try (0..<count).map { index in
            var element = bytes[index * elementSize ..< (index + 1) * elementSize]
            if spacePadded {
                while element.last == UInt8(ascii: " ") { element.removeLast() }
            } else if let end = element.firstIndex(of: 0) {
                element = element[..<end]
            }
            return try element.withUnsafeBytes { try decodeUTF8($0) }
        }
    }

    /// Decodes UTF-8 strictly: invalid bytes are an error, never a trap or a silent repair.
    private func decodeUTF8(_ bytes: UnsafeRawBufferPointer) throws -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.utf8.elementsEqual(bytes) else { throw location.error(.invalidContent, "string is not valid UTF-8") }
        return text
    }
}

/// Checks a shape against the number of values to be written and returns it as HDF5
/// dimensions. `[]` is a scalar holding one value.
func validatedDimensions(_ shape: [Int], count: Int, at location: HDF5Location) throws -> [hsize_t] {
    guard shape.count <= HDF5Limits.maximumRank, shape.allSatisfy({ $0 >= 0 }) else {
        throw location.error(
            .invalidArgument, "invalid shape \(shape): need rank <= \(HDF5Limits.maximumRank) and no negative dimension")
    }
    let product = shape.reduce(1) { product, dimension in
        let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
        return overflow ? Int.max : next
    }
    guard product == count else {
        throw location.error(.invalidArgument, "shape \(shape) holds \(product) elements but \(count) values were given")
    }
    guard count <= HDF5Limits.maximumElements else {
        throw location.error(.invalidArgument, "\(count) elements exceed the limit of 2^31")
    }
    return shape.map { hsize_t($0) }
}

/// Creates a dataspace: scalar for `[]`, simple otherwise. The caller closes it.
func createDataspace(_ dimensions: [hsize_t], at location: HDF5Location) throws -> hid_t {
    if dimensions.isEmpty { return try location.check(H5Screate(H5S_SCALAR), "cannot create a scalar dataspace") }
    return try location.check(H5Screate_simple(Int32(dimensions.count), dimensions, nil), "cannot create a dataspace")
}
