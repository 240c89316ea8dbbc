import CHDF5
import Foundation

/// A uint8 dataset `[rows] + rowShape` stored in unfiltered chunks of whole rows (an image cache: one row per image),
/// written a block of rows at a time, and read back by file offset without the HDF5 library (``chunkLocations``), so
/// that a background thread can read it while the main thread writes a checkpoint through HDF5.
public struct HDF5ByteRows {
    /// The file holding the dataset.
    public let file: HDF5File
    /// The absolute path of the dataset.
    public let path: String
    /// The number of rows, the shape of one row, and the rows per chunk.
    public let rows: Int
    public let rowShape: [Int]
    public let chunkRows: Int

    /// The bytes of one row.
    public var rowBytes: Int { rowShape.reduce(1, *) }

    /// Writes rows `startRow ..< startRow + bytes.count / rowBytes`.
    /// - Throws: ``HDF5Error`` naming the dataset when the rows fall outside it or HDF5 fails.
    public func write(_ bytes: UnsafeRawBufferPointer, startRow: Int) throws {
        let location = HDF5Location(filePath: file.path, objectPath: path)
        let count = bytes.count / max(rowBytes, 1)
        guard bytes.count == count * rowBytes, startRow >= 0, startRow + count <= rows else {
            throw location.error(.invalidArgument, "rows \(startRow)..<\(startRow + count) of \(bytes.count) bytes do not fit \(rows) rows of \(rowBytes) bytes")
        }
        guard count > 0 else { return }
        let dataset = try location.check(H5Dopen2(try file.openIdentifier(for: path), path, lrt_H5P_DEFAULT()), "cannot open dataset")
        defer { H5Dclose(dataset) }
        let fileSpace = try location.check(H5Dget_space(dataset), "cannot read the dataset's dataspace")
        defer { H5Sclose(fileSpace) }
        let start = [hsize_t(startRow)] + rowShape.map { _ in hsize_t(0) }
        let size = [hsize_t(count)] + rowShape.map { hsize_t($0) }
        try location.check(H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, start, nil, size, nil), "cannot select rows")
        let memorySpace = try location.check(H5Screate_simple(Int32(size.count), size, nil), "cannot create a dataspace")
        defer { H5Sclose(memorySpace) }
        try location.check(H5Dwrite(dataset, lrt_H5T_NATIVE_UINT8(), memorySpace, fileSpace, lrt_H5P_DEFAULT(), bytes.baseAddress),
                           "cannot write rows \(startRow)..<\(startRow + count)")
    }
}

/// Where one chunk of a ``HDF5ByteRows`` dataset lies in its file.
public struct HDF5ChunkLocation: Equatable, Sendable {
    /// The first row of the chunk.
    public var row: Int
    /// The byte offset of the chunk in the file, and its stored size (`chunkRows · rowBytes`: unfiltered).
    public var offset: UInt64
    public var size: Int
}

extension HDF5Group {
    /// Creates a uint8 dataset `[rows] + rowShape`, chunked by `chunkRows` rows, unfiltered, with its chunks
    /// allocated at creation (so that every chunk has a file offset), to be filled with ``HDF5ByteRows/write``.
    /// - Throws: ``HDF5Error`` naming the dataset when it exists, a dimension is not positive, or HDF5 fails.
    public func createByteRows(_ name: String, rows: Int, rowShape: [Int], chunkRows: Int) throws -> HDF5ByteRows {
        let datasetPath = try absolutePath(name)
        let location = HDF5Location(filePath: file.path, objectPath: datasetPath)
        guard rows > 0, chunkRows > 0, !rowShape.isEmpty, rowShape.allSatisfy({ $0 > 0 }), rowShape.count < HDF5Limits.maximumRank else {
            throw location.error(.invalidArgument, "cannot store \(rows) rows of shape \(rowShape) in chunks of \(chunkRows) rows")
        }
        guard try !objectExists(atAbsolutePath: datasetPath) else {
            throw location.error(.alreadyExists, "dataset already exists; datasets are written once")
        }
        try requireAncestorsAreGroups(of: datasetPath)
        let dimensions = [hsize_t(rows)] + rowShape.map { hsize_t($0) }
        let space = try createDataspace(dimensions, at: location)
        defer { H5Sclose(space) }
        let properties = try location.check(H5Pcreate(lrt_H5P_DATASET_CREATE()), "cannot create dataset properties")
        defer { H5Pclose(properties) }
        let chunk = [hsize_t(min(chunkRows, rows))] + rowShape.map { hsize_t($0) }
        try location.check(H5Pset_chunk(properties, Int32(chunk.count), chunk), "cannot set chunking \(chunk)")
        try location.check(H5Pset_alloc_time(properties, H5D_ALLOC_TIME_EARLY), "cannot allocate the chunks early")
        let dataset = try location.check(
            H5Dcreate2(try file.openIdentifier(for: datasetPath), datasetPath, lrt_H5T_STD_U8LE(), space,
                       lrt_H5P_DEFAULT(), properties, lrt_H5P_DEFAULT()),
            "cannot create dataset")
        H5Dclose(dataset)
        return HDF5ByteRows(file: file, path: datasetPath, rows: rows, rowShape: rowShape, chunkRows: min(chunkRows, rows))
    }

    /// The shape, rows per chunk and chunk offsets of a dataset made by ``createByteRows(_:rows:rowShape:chunkRows:)``,
    /// checked so that reading `size` bytes at each `offset` of the file reads exactly that chunk's rows.
    /// - Throws: ``HDF5Error`` naming the dataset when it is not an unfiltered, chunked uint8 dataset of whole-row
    ///   chunks, a chunk is missing, or a chunk lies outside the file.
    public func chunkLocations(_ name: String) throws -> (shape: [Int], chunkRows: Int, chunks: [HDF5ChunkLocation]) {
        let datasetPath = try absolutePath(name)
        let location = HDF5Location(filePath: file.path, objectPath: datasetPath)
        let dataset = try openObject(atAbsolutePath: datasetPath, as: H5I_DATASET)
        defer { H5Oclose(dataset) }
        let type = try location.check(H5Dget_type(dataset), "cannot read the dataset's type")
        defer { H5Tclose(type) }
        guard H5Tequal(type, lrt_H5T_STD_U8LE()) > 0 else { throw location.error(.invalidArgument, "is not a uint8 dataset") }
        let properties = try location.check(H5Dget_create_plist(dataset), "cannot read the dataset's storage properties")
        defer { H5Pclose(properties) }
        guard H5Pget_layout(properties) == H5D_CHUNKED, H5Pget_nfilters(properties) == 0,
              H5Pget_external_count(properties) == 0 else {
            throw location.error(.invalidArgument, "is not stored in unfiltered chunks inside the file")
        }
        let space = try location.check(H5Dget_space(dataset), "cannot read the dataset's dataspace")
        defer { H5Sclose(space) }
        let rank = Int(try location.check(H5Sget_simple_extent_ndims(space), "cannot read the dataset's rank"))
        guard (2...HDF5Limits.maximumRank).contains(rank) else { throw location.error(.invalidArgument, "has rank \(rank)") }
        var dimensions = [hsize_t](repeating: 0, count: rank), chunk = dimensions
        try location.check(H5Sget_simple_extent_dims(space, &dimensions, nil), "cannot read the dataset's shape")
        guard try location.check(H5Pget_chunk(properties, Int32(rank), &chunk), "cannot read the chunk shape") == rank,
              chunk.dropFirst() == dimensions.dropFirst(), chunk[0] > 0 else {
            throw location.error(.invalidArgument, "has chunks \(chunk) that are not whole rows of \(dimensions)")
        }
        let shape = dimensions.map { Int($0) }, chunkRows = Int(chunk[0])
        let rowBytes = shape.dropFirst().reduce(1, *)
        var chunkCount: hsize_t = 0
        try location.check(H5Dget_num_chunks(dataset, space, &chunkCount), "cannot count the chunks")
        let expected = (shape[0] + chunkRows - 1) / chunkRows
        guard Int(chunkCount) == expected else {
            throw location.error(.invalidArgument, "has \(chunkCount) of its \(expected) chunks written; the file is incomplete")
        }
        var fileSize: hsize_t = 0
        try location.check(H5Fget_filesize(try file.openIdentifier(for: datasetPath), &fileSize), "cannot read the file size")
        var chunks: [HDF5ChunkLocation] = []
        for index in 0..<chunkCount {
            var offset = [hsize_t](repeating: 0, count: rank)
            var filters: UInt32 = 0
            var address: haddr_t = 0
            var size: hsize_t = 0
            try location.check(H5Dget_chunk_info(dataset, space, index, &offset, &filters, &address, &size), "cannot locate chunk \(index)")
            let bytes = chunkRows * rowBytes
            guard filters == 0, Int(size) == bytes, offset.dropFirst().allSatisfy({ $0 == 0 }),
                  Int(offset[0]) % chunkRows == 0, UInt64(address) < UInt64(fileSize), UInt64(bytes) <= UInt64(fileSize) - UInt64(address) else {
                throw location.error(.invalidArgument, "chunk \(index) at row \(offset[0]) is filtered, resized or outside the file")
            }
            chunks.append(HDF5ChunkLocation(row: Int(offset[0]), offset: UInt64(address), size: bytes))
        }
        chunks.sort { $0.row < $1.row }
        guard chunks.map(\.row) == Array(stride(from: 0, to: shape[0], by: chunkRows)) else {
            throw location.error(.invalidArgument, "does not have one chunk per \(chunkRows) rows")
        }
        return (shape, chunkRows, chunks)
    }
}

extension HDF5File {
    /// Writes a new HDF5 file at `path` too large to build in memory: `body` fills a file created exclusively under
    /// an unpredictable temporary name in the same folder, which is then closed, `fsync`ed and renamed over `path`,
    /// and the folder `fsync`ed. On any error the temporary file is removed and `path` is untouched.
    /// - Throws: what `body` throws, or ``HDF5Error``/``FileError`` naming `path`.
    public static func writeReplacing(_ path: String, what: String, _ body: (HDF5File) throws -> Void) throws {
        SafeFile.removeStaleTemporaryFiles(for: path)
        let temporary = try SafeFile.createTemporaryFile(for: path, what: what)
        Glibc.close(temporary.descriptor)
        var file: HDF5File?
        do {
            file = try HDF5File.create(atPath: temporary.path)
            try body(file!)
            try file!.close()
            let descriptor = open(temporary.path, O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0, SafeFile.fileSystem.synchronize(descriptor) == 0 else {
                let code = errno
                if descriptor >= 0 { Glibc.close(descriptor) }
                throw SafeFile.systemError(code, path: path, doing: "cannot write \(what)")
            }
            Glibc.close(descriptor)
            guard SafeFile.fileSystem.rename(temporary.path, path) == 0 else {
                throw SafeFile.systemError(errno, path: path, doing: "cannot write \(what)")
            }
            SafeFile.synchronizeFolder(of: path)
        } catch {
            try? file?.close()
            unlink(temporary.path)
            throw error
        }
    }
}
