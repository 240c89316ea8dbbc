import CHDF5
import Foundation

/// Facts about the linked HDF5 C library.
public enum HDF5Library {
    /// The library version, for example `"1.10.8"` (from `H5get_libversion`).
    public static var version: String {
        prepareThread()
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        guard H5get_libversion(&major, &minor, &release) >= 0 else { return "unknown" }
        return "\(major).\(minor).\(release)"
    }

    /// Turns off HDF5's automatic printing of its error stack to stderr; failures become
    /// ``HDF5Error``s instead. The distribution's library is built thread-safe, which makes
    /// this setting per thread, so it is applied before every operation (it is a cheap
    /// property store) rather than once per process.
    static func prepareThread() {
        H5Eset_auto2(lrt_H5E_DEFAULT(), nil, nil)
    }
}

/// An open HDF5 file. Closed by ``close()`` or, at the latest, when the last reference
/// (including those held by ``HDF5Group``s) goes away.
///
/// ```swift
/// let file = try HDF5File.create(atPath: "model.h5")
/// let dense = try file.root.createGroup("model_weights/dense")
/// try dense.writeFloats("kernel", kernel, shape: [784, 512])
/// try dense.setAttribute("weight_names", strings: ["dense/kernel"])
/// try file.close()
/// ```
public final class HDF5File {
    /// The path the file was created or opened with.
    public let path: String
    /// The HDF5 file id, `nil` once closed.
    private var identifier: hid_t?

    private init(path: String, identifier: hid_t) {
        self.path = path
        self.identifier = identifier
    }

    deinit {
        if let identifier {
            H5Fclose(identifier)
            H5Eclear2(lrt_H5E_DEFAULT())
        }
    }

    /// Creates a new, empty HDF5 file at `path`, truncating any file already there, and
    /// writes to it directly: for tests and tools that make fixtures. lrt's own outputs use
    /// ``createInMemory(name:)`` and ``SafeFile/write(_:to:what:)`` (atomic, and safe on a
    /// full disk, where a failed close here leaves HDF5 to crash at exit).
    ///
    /// - Throws: ``HDF5Error`` naming `path` if the file cannot be created (missing
    ///   directory, no permission, the file is open elsewhere in this process).
    public static func create(atPath path: String) throws -> HDF5File {
        HDF5Library.prepareThread()
        let location = HDF5Location(filePath: path, objectPath: nil)
        if isDirectory(path) { throw location.error(.isDirectory, "is a directory") }
        let identifier = try location.check(
            H5Fcreate(path, lrt_H5F_ACC_TRUNC(), lrt_H5P_DEFAULT(), lrt_H5P_DEFAULT()), "cannot create file")
        return HDF5File(path: path, identifier: identifier)
    }

    /// Creates a new, empty HDF5 file in memory (HDF5's core driver without a backing
    /// store): nothing touches the disk until ``closeAndTakeImage()`` hands the bytes to
    /// ``SafeFile/write(_:to:what:)``. HDF5 never sees a failed write this way; with the sec2
    /// driver, a failed flush on a full disk made `H5Fclose` fail half-way and leave a dangling
    /// file id that `H5_term_library` dereferenced at exit (SIGSEGV in `H5F__close_cb`).
    ///
    /// - Parameter name: the name errors use (the target path); never opened.
    /// - Throws: ``HDF5Error`` if HDF5 cannot create the file.
    public static func createInMemory(name: String) throws -> HDF5File {
        HDF5Library.prepareThread()
        let location = HDF5Location(filePath: name, objectPath: nil)
        let access = try location.check(H5Pcreate(lrt_H5P_FILE_ACCESS()), "cannot create file access properties")
        defer { H5Pclose(access) }
        try location.check(H5Pset_fapl_core(access, 16 << 20, false), "cannot select the in-memory driver")
        // The core driver tells files apart by name: make it unique within the process.
        let identifier = try location.check(
            H5Fcreate("\(name)#\(UUID().uuidString)", lrt_H5F_ACC_EXCL(), lrt_H5P_DEFAULT(), access), "cannot create file")
        return HDF5File(path: name, identifier: identifier)
    }

    /// Closes a file from ``createInMemory(name:)`` and returns its bytes, a complete HDF5 file.
    ///
    /// - Throws: ``HDF5Error`` if HDF5 cannot flush the file or copy its image.
    public func closeAndTakeImage() throws -> [UInt8] {
        guard let identifier else {
            throw HDF5Location(filePath: path, objectPath: nil).error(.fileClosed, "the file is closed")
        }
        HDF5Library.prepareThread()
        let location = HDF5Location(filePath: path, objectPath: nil)
        try location.check(H5Fflush(identifier, H5F_SCOPE_GLOBAL), "cannot flush the file")
        let size = try location.check(H5Fget_file_image(identifier, nil, 0), "cannot measure the file image")
        var image = [UInt8](repeating: 0, count: size)
        try location.check(
            image.withUnsafeMutableBytes { H5Fget_file_image(identifier, $0.baseAddress, size) }, "cannot copy the file image")
        try close()
        return image
    }

    /// Opens an existing HDF5 file read-only, so that lrt reads only that file: it must be a
    /// regular file (a FIFO or device is refused at once), and links to other files are never
    /// followed (see ``HDF5Group``; external raw storage and virtual datasets are refused when
    /// a dataset is read).
    ///
    /// - Throws: ``HDF5Error`` naming `path` with kind `.fileNotFound` ("no such file"),
    ///   `.isDirectory`, `.notRegularFile`, `.notHDF5` ("not an HDF5 file"), or
    ///   `.libraryFailure` for unreadable, truncated or corrupt files (with HDF5's reason).
    public static func openForReading(atPath path: String) throws -> HDF5File {
        HDF5Library.prepareThread()
        let location = HDF5Location(filePath: path, objectPath: nil)
        do { try SafeFile.requireRegularFile(path) } catch let error as FileError {
            switch error.kind {
            case .isFolder: throw location.error(.isDirectory, "is a directory")
            case .notRegularFile:
                var status = stat()
                let type = stat(path, &status) == 0 ? SafeFile.fileType(status.st_mode) : "not a regular file"
                throw location.error(.notRegularFile, "is \(type), not a regular file; lrt reads only regular files")
            default:
                if error.code == ENOENT { throw location.error(.fileNotFound, "no such file") }
                throw location.error(.libraryFailure, "cannot open: \(String(cString: strerror(error.code)))")
            }
        }
        let signature = try location.check(H5Fis_hdf5(path), "cannot read file")
        guard signature > 0 else {
            throw location.error(.notHDF5, "not an HDF5 file (no HDF5 signature found; is it a text or other file?)")
        }
        let identifier = try location.check(
            H5Fopen(path, lrt_H5F_ACC_RDONLY(), lrt_H5P_DEFAULT()), "cannot open HDF5 file (truncated or corrupt?)")
        return HDF5File(path: path, identifier: identifier)
    }

    /// The root group `/`.
    public var root: HDF5Group { HDF5Group(file: self, path: "/") }

    /// Whether the file is still open.
    public var isOpen: Bool { identifier != nil }

    /// Flushes and closes the file. Later operations on it or its groups throw
    /// `.fileClosed`; closing twice does nothing.
    ///
    /// - Throws: ``HDF5Error`` if HDF5 fails to write the file's metadata.
    public func close() throws {
        guard let identifier else { return }
        self.identifier = nil
        HDF5Library.prepareThread()
        try HDF5Location(filePath: path, objectPath: nil).check(H5Fclose(identifier), "cannot close file")
    }

    /// The HDF5 file id for an operation on `objectPath`; prepares the calling thread.
    func openIdentifier(for objectPath: String) throws -> hid_t {
        HDF5Library.prepareThread()
        guard let identifier else {
            throw HDF5Location(filePath: path, objectPath: objectPath).error(.fileClosed, "the file is closed")
        }
        return identifier
    }

    /// Link-access properties that refuse to traverse external links (a second line of
    /// defence behind the link-type checks in ``HDF5Object``). Created once, never closed.
    nonisolated(unsafe) static let linkAccess: hid_t = {
        HDF5Library.prepareThread()
        let properties = H5Pcreate(lrt_H5P_LINK_ACCESS())
        _ = H5Pset_elink_cb(properties, { _, _, _, _, _, _, _ in -1 }, nil)
        _ = H5Pset_nlinks(properties, 16)
        return properties
    }()

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
