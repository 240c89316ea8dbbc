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
        /// A problem found by lrt's own checks, described in one line naming the file and object.
        case invalid(String)
        /// The HDF5 library or layout refused the file.
        case hdf5(HDF5Error)
        /// The model config stored at `location` (file and object) cannot be built.
        case model(location: String, ModelConfigError)
        /// The optimizer config or state stored at `location` (file and object) cannot be used.
        case optimizer(location: String, OptimizerError)
    }

    public let kind: Kind

    /// An error found by lrt's own checks.
    public init(_ description: String) { kind = .invalid(description) }

    public init(_ kind: Kind) { self.kind = kind }

    /// One line.
    public var description: String {
        let text: String
        switch kind {
        case .invalid(let message): text = message
        case .hdf5(let error): text = error.description
        case .model(let location, let error): text = "\(location): \(error)"
        case .optimizer(let location, let error): text = "\(location): \(error)"
        }
        return text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " ")
    }
}
