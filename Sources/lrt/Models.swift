import ArgumentParser
import Foundation
import LRTData
import LRTLayers
import LRTTensor
import LRTTraining

struct Models: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the built-in architectures, or print one's Keras model config for editing.",
        discussion: """
            `lrt train --model NAME` builds NAME for the dataset's image size, channels and class count.
            `lrt models NAME --input 32,32,3 --classes 10 > model.json` writes the same Keras JSON to edit
            and pass back as `--model model.json`. Parameter counts include BatchNormalization's moving
            statistics, as Keras's count_params.
            """)

    @Argument(help: "An architecture to print as Keras JSON (default: list them all).")
    var name: String?

    @Option(help: ArgumentHelp("One example's shape (default: the architecture's own).", valueName: "height,width,channels"))
    var input: String?

    @Option(help: "Number of classes, the units of the softmax layer (default: the architecture's own).")
    var classes: Int?

    func validate() throws {
        if let input { _ = try Self.inputShape(input) }
        if let classes, classes < 2 { throw ValidationError("--classes must be at least 2, got \(classes)") }
        if let name { _ = try Self.architecture(name) }
    }

    func run() throws {
        let inputShape = try input.map(Self.inputShape)
        guard let name else {
            print(Self.listing(inputShape: inputShape, classCount: classes))
            return
        }
        // An ArchitectureError (or ModelConfigError) is one line naming the bad size; it is printed as it is.
        print(try Self.architecture(name).config(inputShape: inputShape, classCount: classes).formatted(expandedDepth: 3))
    }

    /// `--input 32,32,3` as `[32, 32, 3]`.
    static func inputShape(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.count == 3, let shape = parts as? [Int], shape.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--input must be three positive sizes height,width,channels, e.g. 32,32,3; got '\(text)'")
        }
        return shape
    }

    static func architecture(_ name: String) throws -> Architecture {
        do { return try Architectures.named(name) } catch { throw ValidationError("\(error)") }
    }

    /// One line per architecture: name, input, classes, parameters (of the model built), summary.
    static func listing(inputShape: [Int]?, classCount: Int?) -> String {
        let header = ["name", "input", "classes", "parameters", "description"]
        var rows = [header]
        for architecture in Architectures.all {
            let shape = inputShape ?? architecture.defaultInputShape
            let parameters: String
            do {
                // Built as `lrt train` builds it: every stored weight, BatchNormalization's statistics included.
                var generator = SeededGenerator(seed: 0)
                let model = try ModelConfig.build(json: try architecture.config(inputShape: shape, classCount: classCount),
                                                  generator: &generator)
                let count = model.weights.reduce(0) { $0 + $1.value.count }
                parameters = count.formatted(.number.grouping(.automatic).locale(Locale(identifier: "en_US")))
            } catch is ArchitectureError {
                parameters = "needs ≥ \(architecture.minimumSide)×\(architecture.minimumSide)"
            } catch {
                parameters = "cannot build: \(error)"
            }
            rows.append([architecture.name, shape.map(String.init).joined(separator: "×"),
                         String(classCount ?? architecture.defaultClassCount), parameters, architecture.summary])
        }
        let widths = (0..<header.count - 1).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                guard column < widths.count else { return cell }
                // Numbers right-aligned, words left-aligned.
                let padding = String(repeating: " ", count: widths[column] - cell.count)
                return (column == 2 || column == 3) && row != header ? padding + cell : cell + padding
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// Where `lrt train --model VALUE` gets its Keras model config.
enum ModelArgument {
    /// The config text for `value`: a Keras JSON file when it ends in `.json`, otherwise the built-in
    /// architecture of that name sized for the dataset at `dataRoot`; nil: the sample CNN, the built-in
    /// `digits-cnn` sized for the data (on the bundled 8×8 digits it is Samples/models/digits-cnn.json, which
    /// `ArchitectureTests` holds equal), so no file is needed wherever lrt runs.
    /// `imageSize` and `colorMode` (`--image-size`, `--color-mode`) override the input a built-in architecture is
    /// sized for; a JSON config fixes its own input, so `--image-size` is refused with one.
    static func config(_ value: String?, dataRoot: String, imageSize: ImageSize? = nil, colorMode: ColorMode? = nil) throws -> String {
        guard let value else {
            // The sample CNN, sized for the data: on the bundled digits, Samples/models/digits-cnn.json itself.
            return try Runs.builtInModelConfig(named: Architectures.digitsCNN.name, dataRoot: dataRoot, height: imageSize?.height,
                                               width: imageSize?.width, channels: colorMode?.channels)
        }
        if let path = try file(value) {
            if let imageSize {
                throw ValidationError("--image-size \(imageSize.height),\(imageSize.width) sizes built-in architectures only; the input of a JSON model config is in the config (its images are resized to it)")
            }
            return try readConfigFile(path)
        }
        return try Runs.builtInModelConfig(named: value, dataRoot: dataRoot, height: imageSize?.height, width: imageSize?.width,
                                           channels: colorMode?.channels)
    }

    /// The config file `value` names: a name ending in `.json` or any path with a `/` (so
    /// `--model DIR/` or `--model /dev/zero` get a message about that file, not an unknown
    /// architecture); nil for an architecture name, or for the default sample (built in).
    static func file(_ value: String?) throws -> String? {
        guard let value else { return nil }
        return value.lowercased().hasSuffix(".json") || value.contains("/") ? value : nil
    }
}
