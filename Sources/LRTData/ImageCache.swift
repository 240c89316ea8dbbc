import Foundation
import LRTHDF5
import LRTTensor

/// An HDF5 file holding the decoded images of a dataset's folders (`--cache FILE.h5`), written once and reused by
/// later runs while the files are unchanged.
///
/// Layout (format `lrt-image-cache`, version 1): root attributes `format`, `version`; one group per folder (`train`,
/// `val`, `test`, …) with attributes `digest` (FNV-1a 64 of the preprocessing, the class names and every image's
/// relative path, size, modification time and label: any change rebuilds the file), `class_names`, `rejected`
/// (the first 100 reasons images could not be decoded) and datasets `pixels` (uint8 `[images, height, width,
/// channels]` in unfiltered chunks of whole images, about 1 MiB each) and `labels` (int64 `[images]`, −1 for an image
/// that could not be decoded and was skipped).
public enum ImageCache {
    /// The `format` attribute of a cache file.
    public static let format = "lrt-image-cache"
    static let version: Int64 = 1
    /// Bytes a chunk of images holds, about (1 MiB; at least one image).
    public static let chunkBytes = 1 << 20

    /// One folder to cache: its group name and listing.
    public struct Folder: Sendable {
        public var name: String
        public var listing: ImageListing
        public init(name: String, listing: ImageListing) { (self.name, self.listing) = (name, listing) }
    }

    /// Whether `path` is a regular file holding an lrt image cache (so that it may be rebuilt in place).
    public static func isCache(_ path: String) -> Bool {
        guard let file = try? HDF5File.openForReading(atPath: path) else { return false }
        defer { try? file.close() }
        return (try? file.root.stringAttribute("format")) == format
    }

    /// The cached images of `folders`, from `path` when it holds them with the same digests, otherwise decoded
    /// (on all cores) into a new `path` first; one dataset per folder, by name.
    /// - Parameters:
    ///   - inputFolders: folders the cache may not be written in (the dataset).
    ///   - chunkBytes: about how many bytes of images a chunk holds, when the file is built (default 1 MiB).
    ///   - progress: called while decoding with (folder name, decoded so far, total).
    /// - Throws: `DataError` `.cacheFailed` naming `path` when it exists and is not an lrt image cache, or cannot be
    ///   read or written; a decoding error of the first bad image (unless `skipBadImages`).
    public static func prepare(path: String, folders: [Folder], preprocessing: Preprocessing, skipBadImages: Bool,
                               inputFolders: [String] = [], chunkBytes: Int = ImageCache.chunkBytes,
                               progress: ((String, Int, Int) -> Void)? = nil) throws(DataError) -> [String: HDF5CacheDataset] {
        let digests = folders.map { digest(of: $0.listing, preprocessing: preprocessing, skipBadImages: skipBadImages) }
        if FileManager.default.fileExists(atPath: path), isCache(path),
           let opened = try? open(path: path, folders: folders, digests: digests, preprocessing: preprocessing) {
            return opened
        }
        let target = SafeFile.Target(path: path, what: "image cache", inputFolders: inputFolders, isReplaceable: { isCache($0) })
        do { try target.check() } catch {
            throw DataError(.cacheFailed, path: path, description: "--cache: \(error)")
        }
        var decodingError: DataError?
        do {
            try HDF5File.writeReplacing(path, what: "image cache") { file in
                try file.root.setAttribute("format", string: format)
                try file.root.setAttribute("version", int64: version)
                for (folder, digest) in zip(folders, digests) {
                    do throws(DataError) {
                        try write(folder, digest: digest, into: file, preprocessing: preprocessing, skipBadImages: skipBadImages,
                                  chunkBytes: chunkBytes, progress: progress)
                    } catch {
                        decodingError = error
                        throw error
                    }
                }
            }
        } catch {
            if let decodingError { throw decodingError }
            throw DataError(.cacheFailed, path: path, "cannot write the image cache (\(error))",
                            hint: "choose another --cache file on a disk with space")
        }
        let reopened: [String: HDF5CacheDataset]??
        do { reopened = try open(path: path, folders: folders, digests: digests, preprocessing: preprocessing) } catch {
            throw DataError(.cacheFailed, path: path, "cannot read the image cache just written (\(error))",
                            hint: "choose another --cache file")
        }
        guard let datasets = reopened ?? nil else {
            throw DataError(.cacheFailed, path: path, "the image cache just written does not hold the images (the files changed while it was written)",
                            hint: "run again")
        }
        return datasets
    }

    /// The datasets of `folders` in the cache at `path`; nil when a folder is missing or its digest differs.
    private static func open(path: String, folders: [Folder], digests: [String],
                             preprocessing: Preprocessing) throws -> [String: HDF5CacheDataset]? {
        var datasets: [String: HDF5CacheDataset] = [:]
        for (folder, digest) in zip(folders, digests) {
            guard let dataset = try HDF5CacheDataset(path: path, group: folder.name, listing: folder.listing,
                                                     preprocessing: preprocessing, digest: digest) else { return nil }
            datasets[folder.name] = dataset
        }
        return datasets
    }

    /// Decodes one folder into its group, a chunk of images at a time.
    private static func write(_ folder: Folder, digest: String, into file: HDF5File, preprocessing: Preprocessing,
                              skipBadImages: Bool, chunkBytes: Int, progress: ((String, Int, Int) -> Void)?) throws(DataError) {
        let paths = folder.listing.imagePaths
        let shape = [preprocessing.height, preprocessing.width, preprocessing.colorMode.channels]
        let imageSize = shape.reduce(1, *)
        let chunkRows = max(1, min(paths.count, chunkBytes / imageSize))
        var labels = folder.listing.labels.map(Int64.init)
        var rejected: [String] = []
        do {
            let group = try file.root.createGroup(folder.name)
            try group.setAttribute("digest", string: digest)
            try group.setAttribute("class_names", strings: folder.listing.classNames)
            let rows = try group.createByteRows("pixels", rows: max(paths.count, 1), rowShape: shape, chunkRows: chunkRows)
            var block = [UInt8](repeating: 0, count: chunkRows * imageSize)
            for start in stride(from: 0, to: paths.count, by: chunkRows) {
                let end = min(start + chunkRows, paths.count)
                let failures = block.withUnsafeMutableBufferPointer { buffer in
                    ImageFolder.decode(paths[start..<end], preprocessing: preprocessing,
                                       into: UnsafeMutableBufferPointer(rebasing: buffer[0..<(end - start) * imageSize]))
                }
                for (offset, failure) in failures.enumerated() {
                    guard let failure else { continue }
                    guard skipBadImages else { throw failure }
                    labels[start + offset] = -1
                    if rejected.count < 100 { rejected.append(failure.description) }
                }
                try block.withUnsafeBytes { try rows.write(UnsafeRawBufferPointer(rebasing: $0[0..<(end - start) * imageSize]), startRow: start) }
                progress?(folder.name, end, paths.count)
            }
            try group.writeInt64s("labels", labels, shape: [labels.count])
            if rejected.isEmpty { try group.setEmptyArrayAttribute("rejected") } else { try group.setAttribute("rejected", strings: rejected) }
        } catch let error as DataError {
            throw error
        } catch {
            throw DataError(.cacheFailed, path: file.path, "cannot write the image cache (\(error))",
                            hint: "choose another --cache file on a disk with space")
        }
    }

    /// What the cache of a folder depends on: the preprocessing, the classes, and each image's path relative to the
    /// folder, size, modification time and label. 16 hex digits.
    static func digest(of listing: ImageListing, preprocessing: Preprocessing, skipBadImages: Bool) -> String {
        var lines = ["v\(version)", "\(preprocessing.height)x\(preprocessing.width) \(preprocessing.colorMode.rawValue) \(preprocessing.resizeMode.rawValue) \(preprocessing.pixelLimit) \(skipBadImages)",
                     listing.classNames.joined(separator: "/")]
        let prefix = listing.root.hasSuffix("/") ? listing.root : listing.root + "/"
        for (path, label) in zip(listing.imagePaths, listing.labels) {
            var status = stat()
            let known = stat(path, &status) == 0
            let relative = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
            lines.append(known ? "\(relative) \(status.st_size) \(status.st_mtim.tv_sec).\(status.st_mtim.tv_nsec) \(label)" : "\(relative) ? \(label)")
        }
        return ValidationSplit.digest(of: lines)
    }
}

/// A dataset streamed from an ``ImageCache`` file: images are read a chunk at a time (a few chunks kept in memory)
/// and converted to floats `byte / 255` per batch. Its epoch order is **chunk-shuffled** (``ChunkShuffle``): the
/// chunks in random order, the images of every few consecutive chunks shuffled together, drawn from the data-order
/// stream, so the order is deterministic from the seed and saved with the checkpoint for resuming.
///
/// Reads go straight to the file (`pread` at the chunk offsets HDF5 reported when it was opened), so a background
/// prefetch never calls into HDF5 while the trainer writes a checkpoint.
public final class HDF5CacheDataset: Dataset, @unchecked Sendable {
    /// The cache file and the folder's group in it.
    public let path: String
    public let group: String
    /// The folder the images came from, their files (decodable ones), and the images skipped as unreadable.
    public let root: String
    public let imagePaths: [String]
    public let rejected: [DataError]
    public let skipped: ImageListing.Skipped
    public let preprocessing: Preprocessing
    public let classNames: [String]
    public let labels: [Int32]
    public var count: Int { labels.count }
    public var exampleShape: [Int] { [preprocessing.height, preprocessing.width, preprocessing.colorMode.channels] }
    public var filePaths: [String]? { imagePaths }
    public var chunkSize: Int { chunkRows }

    /// The row of each example in the file. [count]
    private let rows: [Int]
    private let chunkRows: Int
    private let chunks: [HDF5ChunkLocation]
    private let descriptor: Int32
    private let lock = NSLock()
    /// Recently read chunks, most recent last.
    private var recent: [(chunk: Int, bytes: [UInt8])] = []
    private static let recentChunks = 2 * ChunkShuffle.windowChunks + 2

    /// The folder `group` of the cache at `path`; nil when the group is missing or was made from other files
    /// (another `digest`).
    /// - Throws: when the file cannot be read or its group is malformed.
    init?(path: String, group name: String, listing: ImageListing, preprocessing: Preprocessing, digest: String) throws {
        let file = try HDF5File.openForReading(atPath: path)
        defer { try? file.close() }
        guard file.root.contains(name) else { return nil }
        let group = try file.root.openGroup(name)
        guard try group.stringAttribute("digest") == digest,
              try group.stringArrayAttribute("class_names") == listing.classNames else { return nil }
        let storedLabels = try group.readInt64s("labels").values
        let layout = try group.chunkLocations("pixels")
        let shape = [preprocessing.height, preprocessing.width, preprocessing.colorMode.channels]
        guard Array(layout.shape.dropFirst()) == shape, storedLabels.count == listing.imagePaths.count,
              layout.shape[0] == max(storedLabels.count, 1),
              storedLabels.allSatisfy({ $0 == -1 || (0..<Int64(listing.classNames.count)).contains($0) }) else {
            throw DataError(.cacheFailed, path: path, "group \(name) does not match its images", hint: "delete the file to rebuild it")
        }
        let reasons = try group.stringArrayAttribute("rejected")
        let kept = storedLabels.indices.filter { storedLabels[$0] >= 0 }
        var rejected = listing.rejected
        for (number, row) in storedLabels.indices.filter({ storedLabels[$0] < 0 }).enumerated() {
            let imagePath = listing.imagePaths[row]
            rejected.append(number < reasons.count ? DataError(.invalidImage, path: imagePath, description: reasons[number])
                            : DataError(.invalidImage, path: imagePath, "image could not be decoded when the cache was built",
                                        hint: "replace it, or delete the cache to decode it again"))
        }
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw DataError(.cacheFailed, path: path, "cannot open the image cache (\(String(cString: strerror(errno))))",
                            hint: "check its permissions")
        }
        (self.path, self.group, self.root, self.preprocessing) = (path, name, listing.root, preprocessing)
        imagePaths = kept.map { listing.imagePaths[$0] }
        labels = kept.map { Int32(storedLabels[$0]) }
        classNames = listing.classNames
        skipped = listing.skipped
        self.rejected = rejected
        rows = kept
        chunkRows = layout.chunkRows
        chunks = layout.chunks
        self.descriptor = descriptor
    }

    deinit { Glibc.close(descriptor) }

    /// The bytes of chunk `index`, from the recent chunks or the file.
    /// - Throws: `DataError` `.cacheFailed` naming the file when it cannot be read: it was opened and checked when the
    ///   run started, so the disk failed or the file was truncated while the run read it.
    private func chunk(_ index: Int) throws(DataError) -> [UInt8] {
        if let position = recent.firstIndex(where: { $0.chunk == index }) {
            let entry = recent.remove(at: position)
            recent.append(entry)
            return entry.bytes
        }
        let location = chunks[index]
        var bytes = [UInt8](repeating: 0, count: location.size)
        var done = 0
        var failure: String?
        bytes.withUnsafeMutableBytes { buffer in
            while done < location.size {
                let read = pread(descriptor, buffer.baseAddress! + done, location.size - done, off_t(location.offset) + off_t(done))
                if read < 0, errno == EINTR { continue }
                guard read > 0 else {
                    failure = read < 0 ? String(cString: strerror(errno))
                        : "truncated: it ends before byte \(location.offset + UInt64(location.size)) of its images"
                    return
                }
                done += read
            }
        }
        if let failure { throw Self.unreadable(path, reason: failure) }
        recent.append((index, bytes))
        if recent.count > Self.recentChunks { recent.removeFirst() }
        return bytes
    }

    /// The error of a cache file that stopped being readable after it was opened.
    static func unreadable(_ path: String, reason: String) -> DataError {
        DataError(.cacheFailed, path: path, description: "the image cache \(path) could not be read (\(reason)); the file changed or its disk failed during the run: delete it, and the next run builds it anew")
    }

    public func fill(_ indices: ArraySlice<Int>, into batch: inout Tensor, labels: inout [Int32],
                     generator: inout SeededGenerator) throws(DataError) {
        let exampleSize = exampleShape.reduce(1, *)
        prepare(&batch, count: indices.count)  // [count, height, width, channels]
        labels.removeAll(keepingCapacity: true)
        lock.lock()
        defer { lock.unlock() }
        var failure: DataError?
        Preprocessing.unitScale.withUnsafeBufferPointer { scale in
            batch.withUnsafeMutableBufferPointer { destination in
                for (position, example) in indices.enumerated() {
                    let row = rows[example]
                    let bytes: [UInt8]
                    do throws(DataError) { bytes = try chunk(row / chunkRows) } catch {
                        failure = error
                        return
                    }
                    let from = (row % chunkRows) * exampleSize, to = position * exampleSize
                    bytes.withUnsafeBufferPointer { source in
                        for offset in 0..<exampleSize { destination[to + offset] = scale[Int(source[from + offset])] }
                    }
                    labels.append(self.labels[example])
                }
            }
        }
        if let failure { throw failure }
    }

    /// The chunks in random order, the images of every ``ChunkShuffle/windowChunks`` of them shuffled together.
    public func epochOrder(using generator: inout SeededGenerator) -> [Int] {
        var groups = [[Int]](repeating: [], count: chunks.count)
        for (example, row) in rows.enumerated() { groups[row / chunkRows].append(example) }
        return ChunkShuffle.order(groups: groups.filter { !$0.isEmpty }, generator: &generator)
    }

    /// All images read into memory, as the ``ImageFolder`` that decoding the folder would give (for a dataset that
    /// fits the memory budget: the cache then only saves the decoding).
    /// - Throws: `DataError` `.cacheFailed` when the file cannot be read.
    public func loadIntoMemory() throws(DataError) -> ImageFolder {
        let exampleSize = exampleShape.reduce(1, *)
        var pixels = [UInt8]()
        pixels.reserveCapacity(rows.count * exampleSize)
        lock.lock()
        defer { lock.unlock() }
        for row in rows {
            let bytes = try chunk(row / chunkRows)
            let from = (row % chunkRows) * exampleSize
            pixels += bytes[from..<from + exampleSize]
        }
        return ImageFolder(root: root, classNames: classNames, imagePaths: imagePaths, labels: labels, skipped: skipped,
                           rejected: rejected, preprocessing: preprocessing, pixels: pixels)
    }
}
