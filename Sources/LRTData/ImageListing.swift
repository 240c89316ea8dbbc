import Foundation

/// The images of a dataset folder and their labels: the one implementation of lrt's folder-listing rules.
///
/// - Classes are the non-hidden subfolders of the root (symbolic links to folders count), sorted by name, or the
///   names the caller gives.
/// - Images are found recursively inside each class folder: files named `*.png`, `*.jpg` or `*.jpeg` in any letter
///   case, sorted by path; hidden files and folders (names starting with ".") are left out.
/// - Every other file is skipped and counted in ``skipped`` (for one summary line), never silently.
/// - An empty class, a FIFO or device named as an image, an unreadable folder, a name that is not UTF-8 or a
///   broken or looping link named as an image is an error naming it. A folder link that loops back to a folder
///   above it is skipped and counted.
public struct ImageListing: Sendable, Equatable {
    /// The file name extensions read as images, lowercase.
    public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The dataset folder as given.
    public let root: String
    /// Class names; label `i` means `classNames[i]`.
    public let classNames: [String]
    /// Image files, sorted within each class, classes in label order.
    public let imagePaths: [String]
    /// The label of each image. [count]
    public let labels: [Int32]
    /// Files left out because they are not images (and folder links that loop), with the first few of them.
    public let skipped: Skipped
    /// With `skipBadImages`: the entries named as images that cannot be read (FIFOs, devices, looping links, names
    /// that are not UTF-8), each with its reason; they are not in ``imagePaths``.
    public let rejected: [DataError]

    /// What a listing left out.
    public struct Skipped: Sendable, Equatable {
        /// How many entries were left out.
        public var count = 0
        /// The first few of them (at most 3), in listing order.
        public var examples: [String] = []

        mutating func add(_ path: String) {
            count += 1
            if examples.count < 3 { examples.append(path) }
        }

        /// One line for the user, e.g. `skipped 2 files that are not .png/.jpg/.jpeg images, e.g. data/a/notes.txt`,
        /// or nil when nothing was skipped.
        public var summary: String? {
            guard let first = examples.first else { return nil }
            let noun = count == 1 ? "entry that is" : "entries that are"
            return "skipped \(count) \(noun) not a .png/.jpg/.jpeg image under the dataset folder, e.g. \(first)"
        }
    }

    /// Lists `root/<class>/**/*.{png,jpg,jpeg}`.
    /// - Parameter classNames: when given (e.g. the classes a checkpoint was trained on), labels follow this order
    ///   and every subfolder must be one of them, though a class may have no folder; when nil (the default), the
    ///   classes are the sorted subfolder names.
    ///   - skipBadImages: put entries named as images that cannot be read in ``rejected`` instead of throwing.
    /// - Throws: `DataError` naming the folder or file at fault.
    public static func list(root: String, classNames: [String]? = nil, skipBadImages: Bool = false) throws(DataError) -> ImageListing {
        var skipped = Skipped()
        var rejected: [DataError]? = skipBadImages ? [] : nil
        let folders = try classFolders(of: root, skipped: &skipped)
        guard !folders.isEmpty else {
            throw DataError(.noClassFolders, path: root, "dataset folder has no class subfolders",
                            hint: "put the images in ROOT/<class name>/*.png (or .jpg)")
        }
        let names = try classNames.map { names throws(DataError) in try validated(names) } ?? folders
        if let unknown = folders.first(where: { !names.contains($0) }) {
            throw DataError(.unknownClassFolder, path: join(root, unknown),
                            "folder is not one of the classes \(names.joined(separator: ", "))",
                            hint: "remove or rename the folder, or use a model trained on these classes")
        }
        var imagePaths: [String] = [], labels: [Int32] = []
        for (label, name) in names.enumerated() where folders.contains(name) {
            let folder = join(root, name)
            var images: [String] = []
            var ancestors: [FileIdentity] = []
            try collectImages(in: folder, into: &images, skipped: &skipped, rejected: &rejected, ancestors: &ancestors)
            guard !images.isEmpty else {
                throw DataError(.noImages, path: folder, "class folder has no PNG or JPEG images",
                                hint: "add *.png or *.jpg files to it, or delete it")
            }
            imagePaths += images
            labels += Array(repeating: Int32(label), count: images.count)
        }
        return ImageListing(root: root, classNames: names, imagePaths: imagePaths, labels: labels, skipped: skipped,
                            rejected: rejected ?? [])
    }

    /// The sorted names of the non-hidden subfolders of `root`; other entries are counted in `skipped`.
    static func classFolders(of root: String, skipped: inout Skipped) throws(DataError) -> [String] {
        var status = stat()
        guard stat(root, &status) == 0 else {
            let code = errno
            if code == ENOENT {
                throw DataError(.missingRoot, path: root, "dataset folder does not exist",
                                hint: "check the path; Tools/make_mnist.py builds MNIST in this layout")
            }
            throw folderError(root, errno: code)
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw DataError(.notADirectory, path: root, "dataset path is not a folder",
                            hint: "pass a folder laid out as ROOT/<class name>/*.png")
        }
        var folders: [String] = []
        var rejected: [DataError]?  // nil: a bad name at the top level is always an error
        for entry in try entries(of: root, rejected: &rejected) {
            let path = join(root, entry.name)
            if entry.kind == .folder { folders.append(entry.name) } else { skipped.add(path) }
        }
        return folders
    }

    /// A folder's identity on disk, to notice a link that leads back to a folder being listed.
    struct FileIdentity: Equatable {
        let device: UInt64, inode: UInt64
    }

    /// Appends the images under `folder` (recursively, sorted) to `images`.
    static func collectImages(in folder: String, into images: inout [String], skipped: inout Skipped,
                                      rejected: inout [DataError]?, ancestors: inout [FileIdentity]) throws(DataError) {
        var status = stat()
        guard stat(folder, &status) == 0 else { throw folderError(folder, errno: errno) }
        let identity = FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        if ancestors.contains(identity) {
            skipped.add(folder)  // a link back to a folder above: listing it again would never end
            return
        }
        ancestors.append(identity)
        defer { ancestors.removeLast() }
        for entry in try entries(of: folder, rejected: &rejected) {
            let path = join(folder, entry.name)
            switch entry.kind {
            case .folder:
                try collectImages(in: path, into: &images, skipped: &skipped, rejected: &rejected, ancestors: &ancestors)
            case .regularFile where isImageName(entry.name):
                images.append(path)
            case .other(let type) where isImageName(entry.name):
                try reject(ImageFile.notARegularFile(path, type: type), into: &rejected)
            case .unreachable(let code) where isImageName(entry.name):
                try reject(ImageFile.openError(path, errno: code), into: &rejected)
            default:
                skipped.add(path)
            }
        }
    }

    /// Appends `error` to `rejected`, or throws it when bad images are not skipped (`rejected` nil).
    private static func reject(_ error: DataError, into rejected: inout [DataError]?) throws(DataError) {
        guard rejected != nil else { throw error }
        rejected!.append(error)
    }

    /// Whether a file name ends in one of ``imageExtensions``, in any letter case.
    public static func isImageName(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return imageExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// What a folder entry is, after following symbolic links.
    enum EntryKind: Equatable {
        case folder, regularFile
        /// A FIFO, socket or device (`S_IF…` type).
        case other(mode_t)
        /// A broken or looping link, or an entry that cannot be examined (errno).
        case unreachable(Int32)
    }

    /// The non-hidden entries of `folder`, sorted by name; names that are not UTF-8 go to `rejected` when it is not nil.
    /// - Throws: `DataError` when the folder cannot be listed, or an entry's name is not UTF-8 and `rejected` is nil.
    static func entries(of folder: String, rejected: inout [DataError]?) throws(DataError) -> [(name: String, kind: EntryKind)] {
        guard let directory = opendir(folder) else { throw folderError(folder, errno: errno) }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw folderError(folder, errno: errno) }
                break
            }
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            guard bytes.first != UInt8(ascii: ".") else { continue }  // hidden, and "." and ".."
            guard let name = String(validating: bytes, as: UTF8.self) else {
                let escaped = bytes.map { $0 < 0x80 && $0 >= 0x20 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
                try reject(DataError(.invalidName, path: join(folder, escaped), "file name is not valid UTF-8",
                                     hint: "rename the file (e.g. with `convmv -f latin1 -t utf8`), or move it out of the dataset"),
                           into: &rejected)
                continue
            }
            names.append(name)
        }
        var result: [(name: String, kind: EntryKind)] = []
        for name in names.sorted() {
            var status = stat()
            let kind: EntryKind
            if stat(join(folder, name), &status) == 0 {
                switch status.st_mode & S_IFMT {
                case S_IFDIR: kind = .folder
                case S_IFREG: kind = .regularFile
                default: kind = .other(status.st_mode & S_IFMT)
                }
            } else {
                let code = errno
                // Without the execute (search) bit a folder lists its names but none can be examined.
                if code == EACCES { throw folderError(folder, errno: code) }
                kind = .unreachable(code)
            }
            result.append((name, kind))
        }
        return result
    }

    /// The error for a folder that cannot be listed or searched, naming permission problems as such.
    static func folderError(_ folder: String, errno code: Int32) -> DataError {
        switch code {
        case EACCES, EPERM:
            return DataError(.permissionDenied, path: folder, "cannot list folder: permission denied (it needs read and execute permission)",
                             hint: "give yourself access (chmod u+rx), or move the folder out of the dataset")
        case ENOTDIR:
            return DataError(.notADirectory, path: folder, "not a folder", hint: "pass a folder laid out as ROOT/<class name>/*.png")
        default:
            return DataError(.notADirectory, path: folder, "cannot list folder (\(String(cString: strerror(code))))",
                             hint: "check the path and its permissions")
        }
    }

    /// Checks caller-given class names: at least one, none empty, hidden or repeated.
    static func validated(_ names: [String]) throws(DataError) -> [String] {
        guard !names.isEmpty else {
            throw DataError(.invalidArgument, path: nil, "the class name list is empty", hint: "pass at least one class name")
        }
        var seen = Set<String>()
        for name in names where name.isEmpty || name.hasPrefix(".") || name.contains("/") || !seen.insert(name).inserted {
            throw DataError(.invalidArgument, path: nil, "class name \"\(name)\" is empty, hidden, a path or repeated",
                            hint: "pass distinct folder names")
        }
        return names
    }

    /// `folder/name`, without doubling a trailing slash.
    public static func join(_ folder: String, _ name: String) -> String {
        folder.hasSuffix("/") ? folder + name : folder + "/" + name
    }
}
