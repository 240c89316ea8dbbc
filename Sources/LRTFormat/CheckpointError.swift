import LRTHDF5
import LRTLayers
import LRTOptimizers

/// A checkpoint or model file that cannot be read or written, naming the file,
/// the path inside it and a fix; errors from the HDF5 layer, the model config and the
/// optimizer are carried unchanged in their own cases.
///
/// `description` is always one line: line breaks in the text (from a file's own
/// strings) are replaced by spaces.
public struct CheckpointError: Error, CustomStringConvertible {
    /// What is wrong, with the values that say so.
    public enum Kind: Sendable {
        /// The file at `path` is not what lrt can use: `problem` says why in one line naming the file
        /// and the object inside it, and a fix.
        case invalid(path: String, problem: String)
        /// A file lrt reads or writes is refused or fails at the file-system level (not a regular file,
        /// not an lrt output, disk full, no permission).
        case file(FileError)
        /// Reading `files` in a child process failed (it hung, crashed or could not start): `problem` says how.
        case unreadable(files: [String], problem: String)
        /// A Keras optimizer's config or state that lrt cannot import; `problem` names it and a fix.
        case kerasOptimizer(String)
        /// The HDF5 library or layout refused the file.
        case hdf5(HDF5Error)
        /// The model config stored at `location` (file and object) cannot be built.
        case model(location: String, ModelConfigError)
        /// The optimizer config or state stored at `location` (file and object) cannot be used.
        case optimizer(location: String, OptimizerError)
    }

    public let kind: Kind

    /// The file at `path` is wrong as `problem` (one line naming it) says.
    public init(path: String, _ problem: String) { kind = .invalid(path: path, problem: problem) }

    public init(_ kind: Kind) { self.kind = kind }

    /// `error` as a checkpoint error about `path`: itself when it is one, its own case for the HDF5
    /// and file layers, otherwise its description.
    public static func carrying(_ error: any Error, path: String) -> CheckpointError {
        switch error {
        case let error as CheckpointError: return error
        case let error as HDF5Error: return CheckpointError(.hdf5(error))
        case let error as FileError: return CheckpointError(.file(error))
        default: return CheckpointError(path: path, "\(path): \(error)")
        }
    }

    /// One line.
    public var description: String {
        let text: String
        switch kind {
        case .invalid(_, let problem), .unreadable(_, let problem), .kerasOptimizer(let problem): text = problem
        case .file(let error): text = error.description
        case .hdf5(let error): text = error.description
        case .model(let location, let error): text = "\(location): \(error)"
        case .optimizer(let location, let error): text = "\(location): \(error)"
        }
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " ")
    }
}
