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

    /// Creates a new, empty HDF5 file at `path`, truncating any file already there.
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

    /// Opens an existing HDF5 file read-only.
    ///
    /// - Throws: ``HDF5Error`` naming `path` with kind `.fileNotFound` ("no such file"),
    ///   `.isDirectory`, `.notHDF5` ("not an HDF5 file"), or `.libraryFailure` for
    ///   unreadable, truncated or corrupt files (with HDF5's reason).
    public static func openForReading(atPath path: String) throws -> HDF5File {
        HDF5Library.prepareThread()
        let location = HDF5Location(filePath: path, objectPath: nil)
        var directory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &directory) else {
            throw location.error(.fileNotFound, "no such file")
        }
        if directory.boolValue { throw location.error(.isDirectory, "is a directory") }
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

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
