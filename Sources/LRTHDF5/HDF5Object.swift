import CHDF5
import Foundation

/// A group or dataset inside an open ``HDF5File``: the file plus the object's absolute path.
/// Carries the attribute API shared by ``HDF5Group`` and ``HDF5Dataset``.
///
/// Objects hold no HDF5 ids; each operation opens what it needs by path and closes it
/// before returning.
public protocol HDF5Object {
    /// The file holding the object; kept alive by the object.
    var file: HDF5File { get }
    /// The absolute path of the object inside the file: `/` or `/model_weights/dense`.
    var path: String { get }
}

// MARK: - Paths and opening objects (internal)

extension HDF5Object {
    /// A location naming this object, for errors.
    var location: HDF5Location { HDF5Location(filePath: file.path, objectPath: path) }

    /// The absolute path of `relativePath` below this object. Refuses empty paths, leading
    /// `/`, and empty or `.` components.
    func absolutePath(_ relativePath: String) throws -> String {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false)
        guard !relativePath.isEmpty, components.allSatisfy({ !$0.isEmpty && $0 != "." }) else {
            throw location.error(
                .invalidArgument, "invalid relative path '\(relativePath)': need non-empty names separated by single '/'")
        }
        return path == "/" ? "/" + relativePath : path + "/" + relativePath
    }

    /// Whether an object exists at `absolutePath`, checking each component with `H5Lexists`
    /// (a single call on a multi-component path fails when an intermediate group is missing).
    ///
    /// Each component's link must be a hard link or a soft link (a path inside this file):
    /// an external link (to another file) or a user-defined link throws `.externalReference`
    /// before it is traversed, so lrt reads only the file it was given.
    func objectExists(atAbsolutePath absolutePath: String) throws -> Bool {
        let fileIdentifier = try file.openIdentifier(for: absolutePath)
        var prefix = ""
        for component in absolutePath.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(fileIdentifier, prefix, HDF5File.linkAccess) > 0 else {
                H5Eclear2(lrt_H5E_DEFAULT())
                return false
            }
            var link = H5L_info_t()
            guard H5Lget_info(fileIdentifier, prefix, &link, HDF5File.linkAccess) >= 0 else {
                throw HDF5Location(filePath: file.path, objectPath: prefix).libraryError("cannot read the link")
            }
            guard link.type == H5L_TYPE_HARD || link.type == H5L_TYPE_SOFT else {
                let kind = link.type == H5L_TYPE_EXTERNAL ? "an external link to another file" : "a user-defined link"
                throw HDF5Location(filePath: file.path, objectPath: prefix).error(
                    .externalReference, "is \(kind); lrt reads only the file it was given (re-save the model without links)")
            }
        }
        // A soft link may dangle: require that it resolves to an object.
        let resolves = H5Oexists_by_name(fileIdentifier, absolutePath, HDF5File.linkAccess) > 0
        H5Eclear2(lrt_H5E_DEFAULT())
        return resolves
    }

    /// Before creating `absolutePath`: throws `.wrongType` naming the first existing
    /// ancestor that is not a group (HDF5's own message for that case is cryptic).
    func requireAncestorsAreGroups(of absolutePath: String) throws {
        var prefix = ""
        for component in absolutePath.split(separator: "/").dropLast() {
            prefix += "/" + component
            guard try objectExists(atAbsolutePath: prefix) else { return }
            H5Oclose(try openObject(atAbsolutePath: prefix, as: H5I_GROUP))
        }
    }

    /// Opens the object at `absolutePath`, a group or dataset as `expected` says (`nil`:
    /// either); the caller closes it with `H5Oclose`. Throws `.notFound` or `.wrongType`
    /// naming the path.
    func openObject(atAbsolutePath absolutePath: String, as expected: H5I_type_t? = nil) throws -> hid_t {
        let kind = expected.map { $0 == H5I_GROUP ? "group" : "dataset" } ?? "object"
        let location = HDF5Location(filePath: file.path, objectPath: absolutePath)
        guard try objectExists(atAbsolutePath: absolutePath) else { throw location.error(.notFound, "no such \(kind)") }
        let identifier = try location.check(
            H5Oopen(try file.openIdentifier(for: absolutePath), absolutePath, HDF5File.linkAccess), "cannot open \(kind)")
        let actual = H5Iget_type(identifier)
        guard actual == expected ?? actual, actual == H5I_GROUP || actual == H5I_DATASET else {
            H5Oclose(identifier)
            let actualKind = actual == H5I_GROUP ? "a group" : actual == H5I_DATASET ? "a dataset" : "a named datatype"
            throw location.error(.wrongType, "is \(actualKind), not a \(kind == "object" ? "group or dataset" : kind)")
        }
        return identifier
    }
}

// MARK: - Attributes

extension HDF5Object {
    /// Sets a scalar variable-length UTF-8 string attribute (what h5py reads as `str`),
    /// replacing any attribute of that name.
    ///
    /// - Throws: ``HDF5Error`` if `string` contains a NUL character or HDF5 fails.
    public func setAttribute(_ name: String, string: String) throws {
        try writeStringAttribute(name, [string], dimensions: [])
    }

    /// Sets a 1-D variable-length UTF-8 string attribute (h5py reads it as an array of
    /// `str`), replacing any attribute of that name.
    ///
    /// - Throws: ``HDF5Error`` if a string contains a NUL character or HDF5 fails.
    public func setAttribute(_ name: String, strings: [String]) throws {
        try writeStringAttribute(name, strings, dimensions: [hsize_t(strings.count)])
    }

    /// Sets a scalar 64-bit little-endian integer attribute, replacing any of that name.
    public func setAttribute(_ name: String, int64: Int64) throws {
        var value = int64
        try writeAttribute(
            name, fileType: lrt_H5T_STD_I64LE(), memoryType: lrt_H5T_NATIVE_INT64(), dimensions: [], buffer: &value)
    }

    /// Sets a scalar 64-bit IEEE float attribute, replacing any of that name.
    public func setAttribute(_ name: String, double: Double) throws {
        var value = double
        try writeAttribute(
            name, fileType: lrt_H5T_IEEE_F64LE(), memoryType: lrt_H5T_NATIVE_DOUBLE(), dimensions: [], buffer: &value)
    }

    /// Sets a 1-D float64 attribute with 0 elements: exactly what h5py and Keras write for
    /// an empty list (for example `weight_names` of a layer without weights).
    public func setEmptyArrayAttribute(_ name: String) throws {
        try writeAttribute(
            name, fileType: lrt_H5T_IEEE_F64LE(), memoryType: lrt_H5T_NATIVE_DOUBLE(), dimensions: [0], buffer: nil)
    }

    /// Whether this object has an attribute called `name`. `false` if the object is missing
    /// or the file is closed.
    public func hasAttribute(_ name: String) -> Bool {
        guard let object = try? openObject(atAbsolutePath: path) else { return false }
        defer { H5Oclose(object) }
        let exists = H5Aexists(object, name) > 0
        H5Eclear2(lrt_H5E_DEFAULT())
        return exists
    }

    /// Reads a string attribute: variable- or fixed-length, ASCII or UTF-8, scalar or a
    /// 1-element array.
    ///
    /// - Throws: ``HDF5Error`` naming `path@name` if it is missing, not a string, holds
    ///   other than one element, or is not valid UTF-8.
    public func stringAttribute(_ name: String) throws -> String {
        try readAttribute(name) { stored in
            let strings = try stored.strings()
            guard strings.count == 1 else {
                throw stored.location.error(.wrongType, "holds \(strings.count) strings, expected one")
            }
            return strings[0]
        }
    }

    /// Reads a string-array attribute: variable- or fixed-length strings, 1-D or scalar (one
    /// element). An empty numeric array (what h5py writes for an empty list) reads as `[]`.
    ///
    /// - Throws: ``HDF5Error`` naming `path@name` if it is missing, of another type, of
    ///   rank above 1, or not valid UTF-8.
    public func stringArrayAttribute(_ name: String) throws -> [String] {
        try readAttribute(name) { stored in
            let shape = try stored.shape()
            if [H5T_INTEGER, H5T_FLOAT].contains(stored.typeClass), shape.reduce(1, *) == 0 { return [] }
            guard shape.count <= 1 else {
                throw stored.location.error(.wrongType, "has shape \(shape), expected a 1-D array of strings")
            }
            return try stored.strings()
        }
    }

    /// Reads a scalar (or 1-element) integer attribute, converted to `Int64`.
    ///
    /// - Throws: ``HDF5Error`` naming `path@name` if it is missing or not one integer.
    public func int64Attribute(_ name: String) throws -> Int64 {
        try readNumberAttribute(name, as: lrt_H5T_NATIVE_INT64(), accepting: [H5T_INTEGER], expected: "an integer")
    }

    /// Reads a scalar (or 1-element) float or integer attribute, converted to `Double`.
    ///
    /// - Throws: ``HDF5Error`` naming `path@name` if it is missing or not one number.
    public func doubleAttribute(_ name: String) throws -> Double {
        try readNumberAttribute(name, as: lrt_H5T_NATIVE_DOUBLE(), accepting: [H5T_FLOAT, H5T_INTEGER], expected: "a number")
    }

    // MARK: Attribute plumbing (internal)

    /// Writes the attribute `name` with the given types and dimensions (`[]` = scalar),
    /// replacing any existing one. A `nil` buffer writes nothing (zero elements).
    func writeAttribute(
        _ name: String, fileType: hid_t, memoryType: hid_t, dimensions: [hsize_t], buffer: UnsafeRawPointer?
    ) throws {
        let location = attributeLocation(name)
        guard !name.isEmpty else { throw location.error(.invalidArgument, "attribute name is empty") }
        let object = try openObject(atAbsolutePath: path)
        defer { H5Oclose(object) }
        if try location.check(H5Aexists(object, name), "cannot check for the attribute") > 0 {
            try location.check(H5Adelete(object, name), "cannot delete the attribute to replace it")
        }
        let space = try createDataspace(dimensions, at: location)
        defer { H5Sclose(space) }
        let attribute = try location.check(
            H5Acreate2(object, name, fileType, space, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()), "cannot create the attribute")
        defer { H5Aclose(attribute) }
        if let buffer { try location.check(H5Awrite(attribute, memoryType, buffer), "cannot write the attribute") }
    }

    /// Writes variable-length UTF-8 strings (the type h5py uses for `str`).
    private func writeStringAttribute(_ name: String, _ strings: [String], dimensions: [hsize_t]) throws {
        let location = attributeLocation(name)
        if let bad = strings.first(where: { $0.utf8.contains(0) }) {
            throw location.error(.invalidArgument, "string \(bad.debugDescription) contains a NUL character")
        }
        let type = try location.check(H5Tcopy(lrt_H5T_C_S1()), "cannot create a string type")
        defer { H5Tclose(type) }
        try location.check(H5Tset_size(type, lrt_H5T_VARIABLE()), "cannot make the string type variable-length")
        try location.check(H5Tset_cset(type, H5T_CSET_UTF8), "cannot set the UTF-8 character set")
        let copies = strings.map { UnsafePointer(strdup($0)) }
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        try copies.withUnsafeBufferPointer { pointers in
            try writeAttribute(name, fileType: type, memoryType: type, dimensions: dimensions,
                               buffer: pointers.isEmpty ? nil : UnsafeRawPointer(pointers.baseAddress))
        }
    }

    /// Opens the attribute `name`, hands its space and type to `body`, and closes it all.
    func readAttribute<Result>(_ name: String, _ body: (StoredData) throws -> Result) throws -> Result {
        let location = attributeLocation(name)
        let object = try openObject(atAbsolutePath: path)
        defer { H5Oclose(object) }
        guard !name.isEmpty, H5Aexists(object, name) > 0 else { throw location.error(.notFound, "no such attribute") }
        let attribute = try location.check(H5Aopen(object, name, lrt_H5P_DEFAULT()), "cannot open the attribute")
        defer { H5Aclose(attribute) }
        let space = try location.check(H5Aget_space(attribute), "cannot read the attribute's dataspace")
        defer { H5Sclose(space) }
        let type = try location.check(H5Aget_type(attribute), "cannot read the attribute's type")
        defer { H5Tclose(type) }
        return try body(StoredData(space: space, type: type, read: { H5Aread(attribute, $0, $1) }, location: location))
    }

    /// Reads a one-element numeric attribute converted to `memoryType`.
    private func readNumberAttribute<Number: Numeric>(
        _ name: String, as memoryType: hid_t, accepting classes: [H5T_class_t], expected: String
    ) throws -> Number {
        try readAttribute(name) { stored in
            let values: [Number] = try stored.numbers(as: memoryType, accepting: classes, expected: expected).values
            guard values.count == 1 else {
                throw stored.location.error(.wrongType, "holds \(values.count) values, expected one")
            }
            return values[0]
        }
    }

    /// Attributes are named `objectPath@attributeName` in errors.
    private func attributeLocation(_ name: String) -> HDF5Location {
        HDF5Location(filePath: file.path, objectPath: "\(path)@\(name)")
    }
}
