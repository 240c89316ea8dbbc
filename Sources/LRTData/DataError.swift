/// A problem with a dataset folder or an image file: what went wrong, the path or value at fault, and how to fix it.
///
/// `description` is a single line, e.g.
/// `image is 28×28 but 8×8 is expected: data/train/3/00017.png — resize the images or choose a model whose input is 28×28`.
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// Which check failed, for code that reacts to one failure in particular.
    public enum Kind: Sendable, Equatable {
        /// A height, width, channel count or class list that cannot be used.
        case invalidArgument
        /// The dataset root does not exist.
        case missingRoot
        /// The dataset root (or a listed folder) is a file, or cannot be listed.
        case notADirectory
        /// The dataset root has no class subfolders.
        case noClassFolders
        /// A subfolder is not one of the class names the caller asked for.
        case unknownClassFolder
        /// A class folder has no PNG or JPEG images.
        case noImages
        /// A file is not a PNG or JPEG image libpng or libjpeg can read.
        case invalidImage
        /// A listed path is a FIFO, socket or device: refused at once instead of read (reading could block).
        case notARegularFile
        /// A file or folder cannot be read or listed for lack of permission.
        case permissionDenied
        /// A file or folder name is not valid UTF-8.
        case invalidName
        /// An image declares more pixels than the limit, or its file is too large.
        case imageTooLarge
        /// An image's height or width differs from the expected one.
        case sizeMismatch
        /// Writing a PNG file failed.
        case writeFailed
        /// An image cache file (`--cache`) that cannot be read, written or used.
        case cacheFailed
    }

    /// Which check failed.
    public let kind: Kind
    /// The file or folder at fault, when there is one.
    public let path: String?
    /// One line: what went wrong, where, and a hint to fix it.
    public let description: String

    /// An error whose whole line is `description` (one read back from a cache file).
    init(_ kind: Kind, path: String?, description: String) {
        (self.kind, self.path, self.description) = (kind, path, description)
    }

    /// Creates an error reading "`what`: `path` — `hint`".
    init(_ kind: Kind, path: String?, _ what: String, hint: String) {
        self.kind = kind
        self.path = path
        self.description = (path.map { "\(what): \($0)" } ?? what) + " — " + hint
    }
}
