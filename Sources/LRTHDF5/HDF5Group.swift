import CHDF5
import Foundation

/// A group in an ``HDF5File``: creates and opens subgroups, writes and reads datasets, and
/// (through ``HDF5Object``) carries attributes.
///
/// Relative paths may have several components (`"mlp/dense"`); errors name the absolute path.
public struct HDF5Group: HDF5Object {
    /// The file holding the group; kept alive by the group.
    public let file: HDF5File
    /// The absolute path of the group: `/` or `/model_weights/dense`.
    public let path: String

    init(file: HDF5File, path: String) {
        self.file = file
        self.path = path
    }

    // MARK: Groups

    /// Creates the group at `relativePath`, creating missing intermediate groups
    /// (`"mlp/dense"` creates `mlp` if needed).
    ///
    /// - Throws: ``HDF5Error`` naming the absolute path if it exists already, an
    ///   intermediate component is a dataset, or the path is malformed.
    @discardableResult
    public func createGroup(_ relativePath: String) throws -> HDF5Group {
        let groupPath = try absolutePath(relativePath)
        let location = HDF5Location(filePath: file.path, objectPath: groupPath)
        guard try !objectExists(atAbsolutePath: groupPath) else {
            throw location.error(.alreadyExists, "group or dataset already exists")
        }
        try requireAncestorsAreGroups(of: groupPath)
        let linkProperties = try intermediateGroupLinkProperties(at: location)
        defer { H5Pclose(linkProperties) }
        let group = try location.check(
            H5Gcreate2(
                try file.openIdentifier(for: groupPath), groupPath, linkProperties, lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()),
            "cannot create group")
        H5Gclose(group)
        return HDF5Group(file: file, path: groupPath)
    }

    /// Opens the existing group at `relativePath`.
    ///
    /// - Throws: ``HDF5Error`` naming the absolute path if it is missing or not a group.
    public func openGroup(_ relativePath: String) throws -> HDF5Group {
        let groupPath = try absolutePath(relativePath)
        H5Oclose(try openObject(atAbsolutePath: groupPath, as: H5I_GROUP))
        return HDF5Group(file: file, path: groupPath)
    }

    /// Opens the existing dataset at `relativePath`, for its attributes.
    ///
    /// - Throws: ``HDF5Error`` naming the absolute path if it is missing or not a dataset.
    public func openDataset(_ relativePath: String) throws -> HDF5Dataset {
        let datasetPath = try absolutePath(relativePath)
        H5Oclose(try openObject(atAbsolutePath: datasetPath, as: H5I_DATASET))
        return HDF5Dataset(file: file, path: datasetPath)
    }

    /// Whether a group or dataset exists at `relativePath`. Safe for multi-component paths:
    /// each component is checked in turn. `false` for malformed paths or a closed file.
    public func contains(_ relativePath: String) -> Bool {
        guard let objectPath = try? absolutePath(relativePath) else { return false }
        return (try? objectExists(atAbsolutePath: objectPath)) ?? false
    }

    /// The names of the direct children (groups, datasets, links), sorted.
    ///
    /// - Throws: ``HDF5Error`` naming the group if it cannot be iterated or a name is not
    ///   valid UTF-8.
    public func memberNames() throws -> [String] {
        let group = try openObject(atAbsolutePath: path, as: H5I_GROUP)
        defer { H5Oclose(group) }
        var names: [String?] = []
        _ = try withUnsafeMutablePointer(to: &names) { namesPointer in
            try location.check(H5Literate(group, H5_INDEX_NAME, H5_ITER_NATIVE, nil, { _, name, _, context in
                guard let name, let context else { return -1 }
                let bytes = UnsafeRawBufferPointer(start: name, count: strlen(name))
                let text = String(decoding: bytes, as: UTF8.self)
                context.assumingMemoryBound(to: [String?].self).pointee.append(text.utf8.elementsEqual(bytes) ? text : nil)
                return 0
            }, namesPointer), "cannot list the group's members")
        }
        guard names.allSatisfy({ $0 != nil }) else {
            throw location.error(.invalidContent, "a member name is not valid UTF-8")
        }
        return names.compactMap { $0 }.sorted()
    }

    // MARK: Datasets

    /// Writes a new float32 dataset (`H5T_IEEE_F32LE`) of the given shape, row-major.
    ///
    /// - Parameters:
    ///   - name: relative path of the dataset; missing intermediate groups are created.
    ///   - values: the elements, `shape.reduce(1, *)` of them.
    ///   - shape: the dimensions; `[]` writes a scalar holding one value.
    ///   - gzipLevel: `nil` (default) stores the data contiguous; 0...9 stores it chunked
    ///     and deflate-compressed (ignored for scalars and empty datasets, which have
    ///     nothing to compress).
    /// - Throws: ``HDF5Error`` naming the dataset if it exists already, the shape does not
    ///   match the values, or the gzip level is outside 0...9.
    public func writeFloats(_ name: String, _ values: [Float], shape: [Int], gzipLevel: Int? = nil) throws {
        try writeDataset(
            name, values, shape: shape, fileType: lrt_H5T_IEEE_F32LE(), memoryType: lrt_H5T_NATIVE_FLOAT(), gzipLevel: gzipLevel)
    }

    /// Writes a new int64 dataset (`H5T_STD_I64LE`) of the given shape, row-major.
    ///
    /// - Throws: ``HDF5Error`` naming the dataset if it exists already or the shape does
    ///   not match the values.
    public func writeInt64s(_ name: String, _ values: [Int64], shape: [Int]) throws {
        try writeDataset(
            name, values, shape: shape, fileType: lrt_H5T_STD_I64LE(), memoryType: lrt_H5T_NATIVE_INT64(), gzipLevel: nil)
    }

    /// Reads a dataset stored as any float or integer type, converted to `Float` by HDF5.
    ///
    /// - Returns: the elements in row-major order and the shape (`[]` for a scalar).
    /// - Throws: ``HDF5Error`` naming the dataset if it is missing, stores another type
    ///   (strings, compounds; the message names the stored type), or exceeds the limits
    ///   (rank 8, 2^31 elements).
    public func readFloats(_ name: String) throws -> (values: [Float], shape: [Int]) {
        try readDataset(name) {
            try $0.numbers(as: lrt_H5T_NATIVE_FLOAT(), accepting: [H5T_FLOAT, H5T_INTEGER], expected: "a float or integer type")
        }
    }

    /// Reads a dataset stored as any integer type, converted to `Int64` by HDF5.
    ///
    /// - Returns: the elements in row-major order and the shape (`[]` for a scalar).
    /// - Throws: ``HDF5Error`` naming the dataset if it is missing, stores a non-integer
    ///   type, or exceeds the limits.
    public func readInt64s(_ name: String) throws -> (values: [Int64], shape: [Int]) {
        try readDataset(name) {
            try $0.numbers(as: lrt_H5T_NATIVE_INT64(), accepting: [H5T_INTEGER], expected: "an integer type")
        }
    }

    /// The stored element type of a dataset, without reading its data.
    ///
    /// - Throws: ``HDF5Error`` naming the dataset if it is missing.
    public func datasetType(_ name: String) throws -> HDF5NumberType {
        try readDataset(name) { $0.numberType }
    }

    /// The shape of a dataset (`[]` for a scalar), without reading its data.
    ///
    /// - Throws: ``HDF5Error`` naming the dataset if it is missing or exceeds the limits.
    public func datasetShape(_ name: String) throws -> [Int] {
        try readDataset(name) { try $0.shape() }
    }

    // MARK: Dataset plumbing (internal)

    private func writeDataset<Element>(
        _ name: String, _ values: [Element], shape: [Int], fileType: hid_t, memoryType: hid_t, gzipLevel: Int?
    ) throws {
        let datasetPath = try absolutePath(name)
        let location = HDF5Location(filePath: file.path, objectPath: datasetPath)
        let dimensions = try validatedDimensions(shape, count: values.count, at: location)
        if let gzipLevel, !(0...9).contains(gzipLevel) {
            throw location.error(.invalidArgument, "gzip level \(gzipLevel) is outside 0...9")
        }
        guard try !objectExists(atAbsolutePath: datasetPath) else {
            throw location.error(.alreadyExists, "dataset already exists; datasets are written once")
        }
        try requireAncestorsAreGroups(of: datasetPath)
        let space = try createDataspace(dimensions, at: location)
        defer { H5Sclose(space) }
        let creationProperties = try location.check(H5Pcreate(lrt_H5P_DATASET_CREATE()), "cannot create dataset properties")
        defer { H5Pclose(creationProperties) }
        if let gzipLevel, !dimensions.isEmpty, !values.isEmpty {
            let chunk = chunkDimensions(dimensions, elementSize: MemoryLayout<Element>.size)
            try location.check(H5Pset_chunk(creationProperties, Int32(chunk.count), chunk), "cannot set chunking \(chunk)")
            try location.check(H5Pset_deflate(creationProperties, UInt32(gzipLevel)), "cannot enable gzip compression")
        }
        let linkProperties = try intermediateGroupLinkProperties(at: location)
        defer { H5Pclose(linkProperties) }
        let dataset = try location.check(
            H5Dcreate2(
                try file.openIdentifier(for: datasetPath), datasetPath, fileType, space,
                linkProperties, creationProperties, lrt_H5P_DEFAULT()),
            "cannot create dataset")
        defer { H5Dclose(dataset) }
        guard !values.isEmpty else { return }
        _ = try values.withUnsafeBytes { buffer in
            try location.check(
                H5Dwrite(dataset, memoryType, lrt_H5S_ALL(), lrt_H5S_ALL(), lrt_H5P_DEFAULT(), buffer.baseAddress),
                "cannot write dataset")
        }
    }

    /// Opens the dataset `name`, hands its space and type to `body`, and closes it all.
    private func readDataset<Result>(_ name: String, _ body: (StoredData) throws -> Result) throws -> Result {
        let datasetPath = try absolutePath(name)
        let location = HDF5Location(filePath: file.path, objectPath: datasetPath)
        let dataset = try openObject(atAbsolutePath: datasetPath, as: H5I_DATASET)
        defer { H5Oclose(dataset) }
        try requireInternalStorage(dataset, at: location)
        let space = try location.check(H5Dget_space(dataset), "cannot read the dataset's dataspace")
        defer { H5Sclose(space) }
        let type = try location.check(H5Dget_type(dataset), "cannot read the dataset's type")
        defer { H5Tclose(type) }
        let read: (hid_t, UnsafeMutableRawPointer) -> herr_t = {
            H5Dread(dataset, $0, lrt_H5S_ALL(), lrt_H5S_ALL(), lrt_H5P_DEFAULT(), $1)
        }
        return try body(StoredData(space: space, type: type, read: read, location: location))
    }

    /// Refuses a dataset whose elements live outside this file: external raw storage
    /// (`H5Pset_external`, which would make HDF5 read any file named in it) or a virtual
    /// dataset (`H5Pset_virtual`, which maps other files' datasets), before anything is read.
    private func requireInternalStorage(_ dataset: hid_t, at location: HDF5Location) throws {
        let creationProperties = try location.check(H5Dget_create_plist(dataset), "cannot read the dataset's storage properties")
        defer { H5Pclose(creationProperties) }
        let layout = H5Pget_layout(creationProperties)
        guard layout != H5D_VIRTUAL else {
            throw location.error(.externalReference, "is a virtual dataset mapping data of other files; lrt reads only the file it was given (store the data in the dataset itself)")
        }
        guard layout != H5D_LAYOUT_ERROR else { throw location.libraryError("cannot read the dataset's storage layout") }
        let externalFiles = try location.check(H5Pget_external_count(creationProperties), "cannot read the dataset's external storage")
        guard externalFiles == 0 else {
            throw location.error(.externalReference, "stores its data in \(externalFiles) external file(s); lrt reads only the file it was given (store the data in the dataset itself)")
        }
    }

    /// Link-creation properties that create missing intermediate groups. The caller closes them.
    private func intermediateGroupLinkProperties(at location: HDF5Location) throws -> hid_t {
        let properties = try location.check(H5Pcreate(lrt_H5P_LINK_CREATE()), "cannot create link properties")
        guard H5Pset_create_intermediate_group(properties, 1) >= 0 else {
            H5Pclose(properties)
            throw location.libraryError("cannot enable intermediate group creation")
        }
        return properties
    }

    /// Chunk dimensions for compression: the whole dataset, with the largest dimension
    /// halved until a chunk holds at most 1 MiB.
    private func chunkDimensions(_ dimensions: [hsize_t], elementSize: Int) -> [hsize_t] {
        var chunk = dimensions.map { max($0, 1) }
        while chunk.reduce(hsize_t(elementSize), *) > 1 << 20,
              let largest = chunk.indices.max(by: { chunk[$0] < chunk[$1] }) {
            chunk[largest] = (chunk[largest] + 1) / 2
        }
        return chunk
    }
}

/// A dataset in an ``HDF5File``, for reading and writing its attributes (data is read and
/// written through its parent ``HDF5Group``).
public struct HDF5Dataset: HDF5Object {
    /// The file holding the dataset; kept alive by the dataset.
    public let file: HDF5File
    /// The absolute path of the dataset, for example `/model_weights/dense/kernel`.
    public let path: String
}
