import CHDF5

/// An error from reading or writing an HDF5 file, naming the file, the object inside it,
/// what went wrong and, when the HDF5 library refused, its own reason.
///
/// `description` is one line, for example:
/// `HDF5 file '/tmp/model.h5', object '/model_weights/dense': no such group`.
public struct HDF5Error: Error, CustomStringConvertible, Equatable {
    /// The broad category of an ``HDF5Error``, for callers that react differently to each.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist.
        case fileNotFound
        /// The path names a directory, not a file.
        case isDirectory
        /// The path names a FIFO, device or socket, not a regular file.
        case notRegularFile
        /// The file refers to data outside itself (an external link, external raw storage, a
        /// virtual dataset), which lrt never follows.
        case externalReference
        /// The file exists but does not carry the HDF5 signature.
        case notHDF5
        /// The file was closed before the operation.
        case fileClosed
        /// A group, dataset or attribute is missing.
        case notFound
        /// An object to be created exists already.
        case alreadyExists
        /// An object exists but is of the wrong kind or stored type (a dataset where a group
        /// was expected, a string where a number was expected).
        case wrongType
        /// A value passed by the caller is invalid (a malformed path, a shape that does not
        /// match the number of values).
        case invalidArgument
        /// The stored content is invalid or larger than this wrapper accepts (rank above 8,
        /// more than 2^31 elements, strings above 64 MiB, invalid UTF-8).
        case invalidContent
        /// The HDF5 library refused the operation; `reason` holds its explanation
        /// (truncated or corrupt files end up here).
        case libraryFailure
    }

    /// The broad category of the failure.
    public let kind: Kind
    /// The path of the HDF5 file on disk.
    public let filePath: String
    /// The absolute path of the object inside the file (`/model_weights/dense`), or `nil`
    /// when the failure concerns the file as a whole. Attributes are written `group@name`.
    public let objectPath: String?
    /// What went wrong, in words.
    public let problem: String
    /// The most specific explanation found on the HDF5 error stack, if the library failed.
    public let reason: String?

    /// Creates an error; prefer the internal helpers on ``HDF5Location``, which also read
    /// and clear the HDF5 error stack.
    public init(kind: Kind, filePath: String, objectPath: String?, problem: String, reason: String? = nil) {
        self.kind = kind
        self.filePath = filePath
        self.objectPath = objectPath
        self.problem = problem
        self.reason = reason
    }

    /// One line: file, object, problem and HDF5's reason.
    public var description: String {
        var text = "HDF5 file '\(filePath)'"
        if let objectPath { text += ", object '\(objectPath)'" }
        text += ": \(problem)"
        if let reason { text += " (HDF5: \(reason))" }
        return text
    }
}

/// Where an operation happens, used to build errors that name the file and the object.
struct HDF5Location {
    let filePath: String
    let objectPath: String?

    /// An error that did not come from an HDF5 call. Clears any stale HDF5 error stack
    /// (left by existence probes) so it cannot leak into a later message.
    func error(_ kind: HDF5Error.Kind, _ problem: String) -> HDF5Error {
        H5Eclear2(lrt_H5E_DEFAULT())
        return HDF5Error(kind: kind, filePath: filePath, objectPath: objectPath, problem: problem)
    }

    /// An error for a failed HDF5 call, carrying the library's reason. Clears the stack.
    func libraryError(_ problem: String, kind: HDF5Error.Kind = .libraryFailure) -> HDF5Error {
        HDF5Error(kind: kind, filePath: filePath, objectPath: objectPath, problem: problem, reason: takeErrorStack())
    }

    /// Returns `result` when it is non-negative (HDF5's success convention), else throws a
    /// ``HDF5Error`` with `problem` and the library's reason.
    @discardableResult
    func check<Result: BinaryInteger>(_ result: Result, _ problem: @autoclosure () -> String) throws -> Result {
        guard result >= 0 else { throw libraryError(problem()) }
        return result
    }
}

/// Reads the current thread's HDF5 error stack, clears it, and returns the most specific
/// descriptions: the innermost entry (where the failure was detected), plus the outermost
/// (what the API call was doing) when it adds information.
func takeErrorStack() -> String? {
    var descriptions: [String] = []
    withUnsafeMutablePointer(to: &descriptions) { descriptionsPointer in
        _ = H5Ewalk2(lrt_H5E_DEFAULT(), H5E_WALK_UPWARD, { _, entry, context in
            guard let text = entry?.pointee.desc, let context else { return 0 }
            context.assumingMemoryBound(to: [String].self).pointee.append(String(cString: text))
            return 0
        }, descriptionsPointer)
    }
    H5Eclear2(lrt_H5E_DEFAULT())
    guard let innermost = descriptions.first(where: { !$0.isEmpty }) else { return nil }
    guard let outermost = descriptions.last, outermost != innermost, !outermost.isEmpty else { return innermost }
    return "\(outermost): \(innermost)"
}
